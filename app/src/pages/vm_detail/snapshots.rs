//! The VM's snapshots: the tree libvirt has, taking one, and reverting to or deleting one after
//! a confirmation that says what is lost. Work in progress shows while libvirt works (a memory
//! snapshot of a big VM takes seconds), for everyone who has the page open.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::media::list_operations;
use crate::api::snapshots::{create_snapshot, delete_snapshot, list_snapshots, revert_snapshot};
use crate::i18n::Locale;
use crate::language::{error_sentence, format_time, use_locale, Label};
use crate::live::use_live;
use crate::machine::{latest_operations, progress_payload, OperationKind, OperationProgress};
use crate::snapshots::{
    tree_order, validate_description, validate_snapshot_name, CreateSnapshotRequest, Snapshot,
    SnapshotState,
};
use crate::store::VmStore;
use crate::tr;
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

/// What a piece of work in progress does, as its progress bar is named.
fn work_words(locale: Locale, op: &OperationProgress) -> String {
    let target = &op.target;
    match op.kind {
        OperationKind::SnapshotCreate => tr!(locale, vm.work_taking_snapshot, target),
        OperationKind::SnapshotRevert => tr!(locale, vm.work_reverting, target),
        OperationKind::SnapshotDelete => tr!(locale, vm.work_deleting_snapshot, target),
        OperationKind::ImageCreate => tr!(locale, vm.work_copying_disk, target),
        OperationKind::VmMigrate => tr!(locale, vm.work_migrating, target),
    }
    .to_string()
}

/// What a revert to `snapshot` throws away, and what the VM will be afterwards: the sentence
/// the page asks to confirm.
fn revert_question(locale: Locale, snapshot: &Snapshot, vm_status: VmStatus) -> String {
    let name = &snapshot.name;
    let lost = if matches!(vm_status, VmStatus::Running | VmStatus::Paused) {
        tr!(locale, vm.revert_loses_disk_and_memory, name).to_string()
    } else {
        tr!(locale, vm.revert_loses_disk, name).to_string()
    };
    let after = match snapshot.state {
        SnapshotState::Running if snapshot.memory => tr!(locale, vm.revert_then_running),
        SnapshotState::Paused if snapshot.memory => tr!(locale, vm.revert_then_paused),
        _ => tr!(locale, vm.revert_then_stopped),
    };
    format!("{lost} {after}")
}

#[component]
pub fn SnapshotsSection(id: VmId, vm: Memo<Option<Vm>>, store: VmStore) -> impl IntoView {
    let live = use_live();
    let locale = use_locale();
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
                    .map(|op| work_words(locale, op))
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
            call.fail(&invalid);
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
            Confirm::Revert(snapshot) => revert_question(locale, &snapshot, status()),
            Confirm::Delete(name) => tr!(locale, vm.delete_snapshot_question, name).to_string(),
        })
    };
    let rows = move |snapshots: Vec<Snapshot>| {
        if snapshots.is_empty() {
            return view! { <p class="muted">{tr!(locale, vm.no_snapshots)}</p> }.into_any();
        }
        let rows = tree_order(&snapshots)
            .into_iter()
            .map(|(depth, snapshot)| {
                snapshot_row(locale, depth, snapshot.clone(), confirming, call)
            })
            .collect_view();
        view! { <ul class="snapshot-tree" aria-label=tr!(locale, vm.snapshots)>{rows}</ul> }
            .into_any()
    };
    view! {
        <section class="vm-section" aria-labelledby="snapshots-heading">
            <h2 id="snapshots-heading">{tr!(locale, vm.snapshots)}</h2>
            <p class="muted">
                {move || match status() {
                    VmStatus::Running | VmStatus::Paused => tr!(locale, vm.snapshots_running_hint),
                    _ => tr!(locale, vm.snapshots_stopped_hint),
                }}
            </p>
            <div class="section-row">
                <label>
                    {tr!(locale, vm.snapshot_name)}
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
                    {tr!(locale, vm.snapshot_description)}
                    <input type="text" name="snapshot_description" autocomplete="off" bind:value=description/>
                </label>
                <button type="button" disabled=move || call.busy() on:click=take>
                    {tr!(locale, vm.take_snapshot)}
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
                <div class="confirm" role="alertdialog" aria-label=tr!(locale, vm.confirm)>
                    <p>{question}</p>
                    <button type="button" class="danger" on:click=confirm>
                        {move || match confirming.try_get().flatten() {
                            Some(Confirm::Revert(_)) => tr!(locale, vm.confirm_revert),
                            _ => tr!(locale, vm.confirm_delete),
                        }}
                    </button>
                    <button type="button" on:click=move |_| confirming.set(None)>
                        {tr!(locale, vm.cancel)}
                    </button>
                </div>
            </Show>
            {call.error_view()}
            <Transition fallback=move || view! { <p class="muted">{tr!(locale, vm.loading)}</p> }>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(snapshots) => rows(snapshots),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error_sentence(locale, &error)}</p> }
                                .into_any()
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
    locale: Locale,
    depth: usize,
    snapshot: Snapshot,
    confirming: RwSignal<Option<Confirm>>,
    call: Call,
) -> AnyView {
    let name = snapshot.name.clone();
    let state = snapshot.state.label_in(locale);
    let held = if snapshot.memory {
        tr!(locale, vm.snapshot_with_memory, state).to_string()
    } else {
        tr!(locale, vm.snapshot_disk_only, state).to_string()
    };
    let by = snapshot.created_by.clone().map_or_else(
        || tr!(locale, vm.snapshot_made_outside).to_string(),
        |user| tr!(locale, vm.snapshot_made_by, user).to_string(),
    );
    let when = format_time(locale, &snapshot.created_at);
    let current = snapshot.current;
    let description = snapshot.description.clone();
    let (revert_label, delete_label) = (
        tr!(locale, vm.revert_to, name = &name).to_string(),
        tr!(locale, vm.delete_snapshot_named, name = &name).to_string(),
    );
    let for_revert = snapshot.clone();
    let for_delete = name.clone();
    view! {
        <li class="snapshot" style=format!("margin-left: {}em", depth * 2) aria-label=name.clone()>
            <div>
                <strong>{name.clone()}</strong>
                {current
                    .then(|| {
                        view! {
                            <span class="badge" title=tr!(locale, vm.current_snapshot_title)>
                                {tr!(locale, vm.current_snapshot)}
                            </span>
                        }
                    })}
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
                    {tr!(locale, vm.revert)}
                </button>
                <button
                    type="button"
                    class="danger"
                    aria-label=delete_label
                    disabled=move || call.busy()
                    on:click=move |_| confirming.set(Some(Confirm::Delete(for_delete.clone())))
                >
                    {tr!(locale, vm.delete)}
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
        description: Some(tr!(call.locale, vm.installed_snapshot_description).into()),
        memory: None,
    };
    take_snapshot(call, store, id, request, move |_| done.set(true));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn snapshot(state: SnapshotState, memory: bool) -> Snapshot {
        Snapshot {
            name: "installed".into(),
            description: None,
            created_at: Utc::now(),
            state,
            memory,
            parent: None,
            current: true,
            created_by: None,
        }
    }

    #[test]
    fn the_revert_question_says_what_is_lost() {
        let stopped = snapshot(SnapshotState::Stopped, false);
        assert_eq!(
            revert_question(Locale::en, &stopped, VmStatus::Stopped),
            "Revert to \"installed\"? Everything written to the VM's disk since that snapshot will \
             be lost. The VM will be stopped."
        );
        let running = snapshot(SnapshotState::Running, true);
        assert_eq!(
            revert_question(Locale::en, &running, VmStatus::Running),
            "Revert to \"installed\"? Everything written to the VM's disk since that snapshot and \
             its memory (unsaved work in the running VM) will be lost. The VM will be running, \
             where it was."
        );
        let korean = revert_question(Locale::ko, &running, VmStatus::Running);
        assert!(
            korean.contains("installed") && korean.contains("메모리"),
            "{korean}"
        );
    }

    #[test]
    fn work_in_progress_is_named() {
        let op = |kind| OperationProgress {
            id: uuid::Uuid::nil(),
            kind,
            vm: VmId(uuid::Uuid::nil()),
            target: "before-upgrade".into(),
            percent: 0,
            state: crate::machine::ProgressState::Running,
            error: None,
        };
        assert_eq!(
            work_words(Locale::en, &op(OperationKind::SnapshotCreate)),
            "Taking snapshot \"before-upgrade\"…"
        );
        assert_eq!(
            work_words(Locale::en, &op(OperationKind::SnapshotRevert)),
            "Reverting to \"before-upgrade\"…"
        );
        assert!(work_words(Locale::ko, &op(OperationKind::SnapshotDelete)).contains("삭제"));
    }
}
