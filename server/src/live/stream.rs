//! One client's event stream: a snapshot first, then the bus's changes that the client may see,
//! each with its id; a fresh snapshot whenever the client fell behind the bus or the bus asks
//! for one. The stream ends when the server shuts down. After each statistics round it also
//! carries the cards' gauges of the running VMs the client may see (`vm_gauges`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app::error::AppError;
use app::types::Vm;
use futures::Stream;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::bus::{BusEvent, VmChange};
use super::list_cache::CachedList;
use crate::access::Viewer;
use crate::stats::Gauges;

/// The data of `vm_deleted` and `vm_snapshots`: which VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct VmRef {
    pub uuid: app::types::VmId,
}

/// How long a browser waits before reconnecting after the stream ends.
const RETRY: Duration = Duration::from_secs(1);

/// An event ready to be written as SSE: name, id, JSON data.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub name: &'static str,
    pub id: u64,
    pub data: String,
    /// Set on the first event: how long the client waits before it reconnects.
    pub retry: Option<Duration>,
}

struct State<S> {
    receiver: broadcast::Receiver<Arc<BusEvent>>,
    /// The id the next snapshot carries: the last event it already includes.
    snapshot_id: u64,
    needs_snapshot: bool,
    first: bool,
    /// Set after an error event: the stream ends.
    finished: bool,
    snapshot: S,
    viewer: Viewer,
    shutdown: CancellationToken,
    gauges: Option<watch::Receiver<Arc<Gauges>>>,
    /// The last gauges sent were none at all (nothing running): say so once, not every round.
    sent_no_gauges: bool,
}

/// The events for one client. `snapshot` lists the VMs (the service's list, the same every
/// screen reads); `receiver` must have been subscribed *before* it is called, with `last_id`
/// the bus id at that moment, so no change falls between the snapshot and the deltas.
pub fn vm_events<S, F>(
    receiver: broadcast::Receiver<Arc<BusEvent>>,
    last_id: u64,
    snapshot: S,
    viewer: Viewer,
    gauges: Option<watch::Receiver<Arc<Gauges>>>,
    shutdown: CancellationToken,
) -> impl Stream<Item = StreamEvent> + Send
where
    S: Fn() -> F + Send + Sync + 'static,
    F: Future<Output = Result<CachedList, AppError>> + Send,
{
    let state = State {
        receiver,
        snapshot_id: last_id,
        needs_snapshot: true,
        first: true,
        finished: false,
        snapshot,
        viewer,
        shutdown,
        gauges,
        sent_no_gauges: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        let event = next_event(&mut state).await?;
        Some((event, state))
    })
}

async fn next_event<S, F>(state: &mut State<S>) -> Option<StreamEvent>
where
    S: Fn() -> F,
    F: Future<Output = Result<CachedList, AppError>>,
{
    loop {
        if state.finished || state.shutdown.is_cancelled() {
            return None;
        }
        if state.needs_snapshot {
            state.needs_snapshot = false;
            let retry = state.first.then_some(RETRY);
            state.first = false;
            let listed = tokio::select! {
                () = state.shutdown.cancelled() => return None,
                listed = (state.snapshot)() => listed,
            };
            let event = match listed {
                Ok(list) => StreamEvent {
                    name: "snapshot",
                    id: state.snapshot_id,
                    data: snapshot_data(&list, &state.viewer),
                    retry,
                },
                // Said once, then the stream ends; the client reconnects after `RETRY` and
                // gets a snapshot when the database and libvirt answer again.
                Err(error) => {
                    state.finished = true;
                    StreamEvent {
                        name: "error",
                        id: state.snapshot_id,
                        // `{error, code}`, as every refusal.
                        data: json!(error).to_string(),
                        retry,
                    }
                }
            };
            return Some(event);
        }
        let received = tokio::select! {
            () = state.shutdown.cancelled() => return None,
            received = state.receiver.recv() => received,
            Some(gauges) = changed(&mut state.gauges) => {
                let data = gauges_data(&gauges, &state.viewer);
                let none = data == "{}";
                if none && state.sent_no_gauges {
                    continue;
                }
                state.sent_no_gauges = none;
                return Some(StreamEvent {
                    name: "vm_gauges",
                    id: state.snapshot_id,
                    data,
                    retry: None,
                });
            }
        };
        match received {
            Ok(event) => {
                state.snapshot_id = event.id;
                if let Some(out) = delta(&event, &state.viewer) {
                    return Some(out);
                }
                if matches!(event.change, VmChange::Resync) {
                    state.needs_snapshot = true;
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "an event stream fell behind; sending a snapshot");
                // What is still buffered is older than the snapshot about to be taken: start
                // after it, or the client would briefly go back in time.
                state.receiver = state.receiver.resubscribe();
                state.needs_snapshot = true;
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// The next gauges (never, without a receiver or once the collector is gone).
async fn changed(gauges: &mut Option<watch::Receiver<Arc<Gauges>>>) -> Option<Arc<Gauges>> {
    let receiver = gauges.as_mut()?;
    if receiver.changed().await.is_err() {
        *gauges = None;
        return None;
    }
    Some(Arc::clone(&receiver.borrow_and_update()))
}

/// `{"<uuid>": [cpu, memory|null], …}`: the running VMs this viewer may see.
fn gauges_data(gauges: &Gauges, viewer: &Viewer) -> String {
    let visible: serde_json::Map<String, serde_json::Value> = gauges
        .iter()
        .filter(|(_, owner, _)| viewer.may_see(owner.as_deref()))
        .map(|(uuid, _, gauge)| (uuid.to_string(), json!(gauge)))
        .collect();
    serde_json::Value::Object(visible).to_string()
}

/// `{"vms": [...]}` with the VMs this viewer may see; the shared JSON when that is all of them.
fn snapshot_data(list: &CachedList, viewer: &Viewer) -> String {
    if viewer.sees_all()
        || list
            .vms
            .iter()
            .all(|vm| viewer.may_see(vm.owner.as_deref()))
    {
        let json = String::from_utf8_lossy(&list.json);
        return format!("{{\"vms\":{json}}}");
    }
    let visible: Vec<&Vm> = list
        .vms
        .iter()
        .filter(|vm| viewer.may_see(vm.owner.as_deref()))
        .collect();
    json!({ "vms": visible }).to_string()
}

/// The SSE event for one bus event, if it is a delta this viewer may see.
fn delta(event: &BusEvent, viewer: &Viewer) -> Option<StreamEvent> {
    let (name, visible, data) = match &event.change {
        VmChange::Created(vm) => ("vm_created", viewer.may_see(vm.owner.as_deref()), json!(vm)),
        VmChange::Updated(vm) => ("vm_updated", viewer.may_see(vm.owner.as_deref()), json!(vm)),
        VmChange::Deleted { uuid, owner, .. } => (
            "vm_deleted",
            viewer.may_see(owner.as_deref()),
            json!(VmRef { uuid: *uuid }),
        ),
        // The libraries are everyone's to read.
        VmChange::MediaChanged => ("media_changed", true, json!({})),
        // No data: each reads the hosts it may see again.
        VmChange::Hosts => ("hosts_changed", true, json!({})),
        // Operations on the libraries are admins'; on a VM, its owner's too.
        VmChange::Progress { progress, owner } => (
            "operation_progress",
            viewer.sees_all() || owner.is_some() && viewer.may_see(owner.as_deref()),
            json!(progress),
        ),
        VmChange::Snapshots { uuid, owner } => (
            "vm_snapshots",
            viewer.may_see(owner.as_deref()),
            json!(VmRef { uuid: *uuid }),
        ),
        VmChange::Resync => return None,
    };
    visible.then(|| StreamEvent {
        name,
        id: event.id,
        data: data.to_string(),
        retry: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::bus::EventBus;
    use app::types::VmId;
    use futures::StreamExt;
    use uuid::Uuid;

    fn deleted(bus: &EventBus) -> u64 {
        bus.publish(VmChange::Deleted {
            uuid: VmId(Uuid::new_v4()),
            owner: None,
            host: crate::host::HostKey::local(),
        })
    }

    fn stream_of(
        bus: &EventBus,
        shutdown: CancellationToken,
    ) -> impl Stream<Item = StreamEvent> + Send {
        let (receiver, last_id) = bus.subscribe();
        vm_events(
            receiver,
            last_id,
            || async { Ok(CachedList::new(0, Vec::new())) },
            Viewer::system(),
            None,
            shutdown,
        )
    }

    #[tokio::test]
    async fn a_snapshot_comes_first_then_deltas_in_order() {
        let bus = EventBus::new(16);
        let before = deleted(&bus);
        let stream = stream_of(&bus, CancellationToken::new());
        let first = deleted(&bus);
        let second = deleted(&bus);
        let events: Vec<StreamEvent> = stream.take(3).collect().await;
        assert_eq!(events[0].name, "snapshot");
        assert_eq!(
            events[0].id, before,
            "the snapshot includes what came before it"
        );
        assert_eq!(events[0].retry, Some(RETRY));
        assert_eq!(
            (events[1].name, events[1].id, events[2].id),
            ("vm_deleted", first, second)
        );
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_gets_a_fresh_snapshot() {
        let bus = EventBus::new(2);
        let mut stream = Box::pin(stream_of(&bus, CancellationToken::new()));
        assert_eq!(stream.next().await.unwrap().name, "snapshot");
        // Five changes into a buffer of two while the client reads nothing.
        for _ in 0..5 {
            deleted(&bus);
        }
        let next = stream.next().await.unwrap();
        assert_eq!(next.name, "snapshot", "lagged: {next:?}");
        // The snapshot includes those five; what follows is only what came after it.
        let newer = deleted(&bus);
        let after = stream.next().await.unwrap();
        assert_eq!((after.name, after.id), ("vm_deleted", newer));
    }

    #[tokio::test]
    async fn a_resync_on_the_bus_sends_a_snapshot() {
        let bus = EventBus::new(8);
        let mut stream = Box::pin(stream_of(&bus, CancellationToken::new()));
        assert_eq!(stream.next().await.unwrap().name, "snapshot");
        let id = bus.publish(VmChange::Resync);
        let next = stream.next().await.unwrap();
        assert_eq!((next.name, next.id), ("snapshot", id));
    }

    #[tokio::test]
    async fn shutdown_ends_the_stream() {
        let bus = EventBus::new(8);
        let shutdown = CancellationToken::new();
        let mut stream = Box::pin(stream_of(&bus, shutdown.clone()));
        assert_eq!(stream.next().await.unwrap().name, "snapshot");
        shutdown.cancel();
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn a_failed_snapshot_is_said_and_ends_the_stream() {
        let bus = EventBus::new(8);
        let (receiver, last_id) = bus.subscribe();
        let mut stream = Box::pin(vm_events(
            receiver,
            last_id,
            || async {
                Err(AppError::new(
                    app::error::ErrorCode::DatabaseUnavailable,
                    "down",
                ))
            },
            Viewer::system(),
            None,
            CancellationToken::new(),
        ));
        let event = stream.next().await.unwrap();
        assert_eq!(event.name, "error");
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["code"], "DATABASE_UNAVAILABLE");
        assert!(stream.next().await.is_none());
    }
}
