//! The VM's snapshots: the tree libvirt has, taking one, and reverting to or deleting one after
//! a confirmation that says what is lost. Work in progress shows while libvirt works (a memory
//! snapshot of a big VM takes seconds), for everyone who has the page open.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::media::list_operations;
use crate::api::snapshots::{create_snapshot, delete_snapshot, list_snapshots, revert_snapshot};
use crate::live::use_live;
use crate::machine::{latest_operations, progress_payload, OperationKind, OperationProgress};
use crate::snapshots::{
    revert_warning, tree_order, validate_description, validate_snapshot_name,
    CreateSnapshotRequest, Snapshot,
};
use crate::store::VmStore;
use crate::types::{Vm, VmId, VmStatus};
use crate::validate::NAME_MAX_LEN;

use super::section::Call;

/// What a confirmation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Confirm {
    Revert(Snapshot),
    Delete(String),
}

/// The VM's snapshot list, loaded again whenever the event stream says it changed.
fn snapshot_list(id: VmId) -> Resource<Result<Vec<Snapshot>, crate::error::AppError>> {
    let live = use_live();
    let uuid = id.to_string();
    let changed = Memo::new(move |last: Option<&u64>| {
        live.snapshots.with(|(count, payload)| {
            if payload.is_empty() || payload.contains(&uuid) {
                *count
            } else {
                last.copied().unwrap_or(*count)
            }
        })
    });
    Resource::new(move || changed.get(), move |_| list_snapshots(id))
}

/// Takes a snapshot; `then` hears it.
fn take_snapshot(
    call: Call,
    store: VmStore,
    id: VmId,
    request: CreateSnapshotRequest,
    then: impl FnOnce(Snapshot) + 'static,
) {
    call.run(store, id, create_snapshot(id, request), then);
}

fn work_words(op: &OperationProgress) -> String {
    let verb = match op.kind {
        OperationKind::SnapshotCreate => "Taking snapshot",
        OperationKind::SnapshotRevert => "Reverting to",
        OperationKind::SnapshotDelete => "Deleting snapshot",
        OperationKind::ImageCreate => "Copying the disk to",
    };
    format!("{verb} \"{}\"…", op.target)
}

#[component]
pub fn SnapshotsSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let live = use_live();
    let list = snapshot_list(id);
    let status = move || {
        vm.try_with(|vm| vm.as_ref().map(|vm| vm.status))
            .flatten()
            .unwrap_or(VmStatus::Unknown)
    };
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let confirming = RwSignal::new(None::<Confirm>);
    let call = Call::new();
    // Snapshot work on this VM that has not ended, as the stream reports it; work that began
    // before the page opened is asked for once.
    let operations = Memo::new(move |_| live.operations.with(|events| latest_operations(events)));
    Effect::new(move |_| {
        spawn_local(async move {
            if let Ok(running) = list_operations().await {
                for op in running.iter().filter(|op| op.vm == id) {
                    live.operation_event(progress_payload(op));
                }
            }
        })
    });
    let working = move || {
        operations
            .try_with(|all| {
                all.iter()
                    .filter(|op| op.vm == id && op.kind != OperationKind::ImageCreate)
                    .filter(|op| !op.state.is_over())
                    .map(work_words)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let take = move |_| {
        let request = CreateSnapshotRequest {
            name: name.get_untracked().trim().to_string(),
            description: Some(description.get_untracked()).filter(|d| !d.trim().is_empty()),
            memory: None,
        };
        let checked = validate_snapshot_name(&request.name).and_then(|()| {
            request
                .description
                .as_deref()
                .map_or(Ok(()), validate_description)
        });
        if let Err(invalid) = checked {
            call.error.set(Some(invalid.message));
            return;
        }
        take_snapshot(call, store, id, request, move |_| {
            name.set(String::new());
            description.set(String::new());
        });
    };
    let confirm = move |_| {
        let Some(what) = confirming.get_untracked() else {
            return;
        };
        confirming.set(None);
        match what {
            Confirm::Revert(snapshot) => {
                call.run(store, id, revert_snapshot(id, snapshot.name), |_| {})
            }
            Confirm::Delete(name) => call.run(store, id, delete_snapshot(id, name), |_| {}),
        }
    };
    let question = move || {
        confirming.try_get().flatten().map(|what| match what {
            Confirm::Revert(snapshot) => revert_warning(&snapshot, status()),
            Confirm::Delete(name) => format!(
                "Delete snapshot \"{name}\"? The VM stays as it is; only the way back to that point is lost."
            ),
        })
    };
    let rows = move |snapshots: Vec<Snapshot>| {
        if snapshots.is_empty() {
            return view! { <p class="muted">"No snapshots yet."</p> }.into_any();
        }
        let rows = tree_order(&snapshots)
            .into_iter()
            .map(|(depth, snapshot)| snapshot_row(depth, snapshot.clone(), confirming, call))
            .collect_view();
        view! { <ul class="snapshot-tree" aria-label="Snapshots">{rows}</ul> }.into_any()
    };
    view! {
        <section class="vm-section" aria-labelledby="snapshots-heading">
            <h2 id="snapshots-heading">"Snapshots"</h2>
            <p class="muted">
                {move || match status() {
                    VmStatus::Running | VmStatus::Paused => {
                        "The VM is running: a snapshot saves its memory too, and reverting to it resumes the VM where it was."
                    }
                    _ => "The VM is stopped: a snapshot holds its disk.",
                }}
            </p>
            <div class="section-row">
                <label>
                    "Snapshot name"
                    <input
                        type="text"
                        name="snapshot_name"
                        maxlength=NAME_MAX_LEN
                        autocomplete="off"
                        placeholder="before-upgrade"
                        bind:value=name
                    />
                </label>
                <label>
                    "Description"
                    <input type="text" name="snapshot_description" autocomplete="off" bind:value=description/>
                </label>
                <button type="button" disabled=move || call.busy() on:click=take>
                    "Take snapshot"
                </button>
            </div>
            {move || {
                working()
                    .into_iter()
                    .map(|words| {
                        view! {
                            <p class="snapshot-work" role="status">
                                <progress aria-label=words.clone()></progress>
                                {words}
                            </p>
                        }
                    })
                    .collect_view()
            }}
            <Show when=move || confirming.try_with(Option::is_some).unwrap_or(false)>
                <div class="confirm" role="alertdialog" aria-label="Confirm">
                    <p>{question}</p>
                    <button type="button" class="danger" on:click=confirm>
                        {move || match confirming.try_get().flatten() {
                            Some(Confirm::Revert(_)) => "Confirm revert",
                            _ => "Confirm delete",
                        }}
                    </button>
                    <button type="button" on:click=move |_| confirming.set(None)>
                        "Cancel"
                    </button>
                </div>
            </Show>
            {call.error_view()}
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(snapshots) => rows(snapshots),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error.message}</p> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
    // Erasing the type keeps the page's view type shallow enough for the release build.
    .into_any()
}

/// One snapshot in the tree: indented under its parent, with what it holds and its verbs.
fn snapshot_row(
    depth: usize,
    snapshot: Snapshot,
    confirming: RwSignal<Option<Confirm>>,
    call: Call,
) -> AnyView {
    let name = snapshot.name.clone();
    let held = if snapshot.memory {
        format!("{} VM, with memory", snapshot.state.label())
    } else {
        format!("{} VM, disk only", snapshot.state.label())
    };
    let by = snapshot
        .created_by
        .clone()
        .map_or_else(|| "made outside Limen".to_string(), |by| format!("by {by}"));
    let when = snapshot.created_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let current = snapshot.current;
    let description = snapshot.description.clone();
    let (revert_label, delete_label) = (
        format!("Revert to {name}"),
        format!("Delete snapshot {name}"),
    );
    let for_revert = snapshot.clone();
    let for_delete = name.clone();
    view! {
        <li class="snapshot" style=format!("margin-left: {}em", depth * 2) aria-label=name.clone()>
            <div>
                <strong>{name.clone()}</strong>
                {current.then(|| view! { <span class="badge" title="The VM builds on this snapshot now">"current"</span> })}
                <span class="muted">{format!(" {held} · {when} · {by}")}</span>
                {description.map(|d| view! { <p class="snapshot-description">{d}</p> })}
            </div>
            <div class="section-row">
                <button
                    type="button"
                    aria-label=revert_label
                    disabled=move || call.busy()
                    on:click=move |_| confirming.set(Some(Confirm::Revert(for_revert.clone())))
                >
                    "Revert"
                </button>
                <button
                    type="button"
                    class="danger"
                    aria-label=delete_label
                    disabled=move || call.busy()
                    on:click=move |_| confirming.set(Some(Confirm::Delete(for_delete.clone())))
                >
                    "Delete"
                </button>
            </div>
        </li>
    }
    .into_any()
}

/// Takes the snapshot the installation section offers once an installation is complete.
pub fn take_installed_snapshot(call: Call, store: VmStore, id: VmId, done: RwSignal<bool>) {
    let request = CreateSnapshotRequest {
        name: "installed".into(),
        description: Some("Taken when the installation was completed.".into()),
        memory: None,
    };
    take_snapshot(call, store, id, request, move |_| done.set(true));
}
