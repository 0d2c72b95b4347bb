//! `GET /api/v1/events`: Server-Sent Events (SPEC §5). A snapshot first, then deltas, each
//! with an id; a client that reconnects (with or without `Last-Event-ID`) or falls behind gets
//! a fresh snapshot, so it never has to guess what it missed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};

use app::error::AppError;
use app::machine::OperationProgress;
use app::types::Vm;

use crate::access::Viewer;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::live::stream::{vm_events, StreamEvent, VmRef};
use crate::state::AppState;

/// Comments sent on an idle stream, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The data of a `snapshot` event: every VM the client may see, as `GET /api/v1/vms` lists
/// them. (Written from the list's cached JSON, not from this type: it describes it.)
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VmListSnapshot {
    pub vms: Vec<Vm>,
}

/// The data of a `vm_gauges` event: for each running VM the client may see, by its id, its
/// card's gauges `[cpu, memory]`: CPU and memory in use, whole percent (`null`: not known
/// yet, or no memory report from the guest's balloon driver).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VmGauges(HashMap<String, (Option<u8>, Option<u8>)>);

/// The data of a `media_changed` event: nothing (`{}`).
#[derive(utoipa::ToSchema)]
pub struct NoData {}

/// One event of `GET /api/v1/events`, as `{event, data}`: on the wire the SSE `event:` line
/// names it, its `data:` line is the JSON `data`, and its `id:` line the bus id.
#[derive(utoipa::ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
#[allow(dead_code)] // Describes the stream; `live::stream` writes it.
pub enum LiveEvent {
    /// Sent first, and again whenever the client must start over (it fell behind, or many
    /// things changed at once): every VM the client may see. It replaces the client's list.
    Snapshot(VmListSnapshot),
    /// A VM was created.
    VmCreated(Vm),
    /// A VM changed (status, settings, role, media…): the whole VM as it is now.
    VmUpdated(Vm),
    /// A VM was deleted (or its creation failed): which one.
    VmDeleted(VmRef),
    /// A VM's snapshots changed (taken, reverted to, deleted): its list is stale.
    VmSnapshots(VmRef),
    /// A file came into or left the ISO or base-image library: lists of them are stale.
    MediaChanged(NoData),
    /// A host was added, changed or removed, or was lost or reached again: lists of hosts
    /// are stale.
    HostsChanged(NoData),
    /// How a long operation is getting on (a base image being made: admins; snapshot work:
    /// whoever may see its VM), from its start to its end (`done`, `failed`, `cancelled`).
    OperationProgress(OperationProgress),
    /// Once per statistics round: the cards' gauges of the running VMs the client may see.
    VmGauges(VmGauges),
    /// The first snapshot could not be made (the database or libvirt did not answer): said
    /// once as `{error, code}`, then the stream ends; reconnecting later gets a snapshot.
    Error(AppError),
}

/// Only the VMs the caller may see: a user's stream never carries another user's VM.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "streamEvents",
    tag = "events",
    summary = "Live changes to the VMs the caller may see (Server-Sent Events)",
    description = "A Server-Sent Events stream (open it with `EventSource`, or read \
        `text/event-stream`). It starts with a `snapshot` of every VM the caller may see, then \
        sends each change as it happens, in order; each event has an `id` (the first one also \
        `retry: 1000`). A client that reconnects — with or without `Last-Event-ID` — or falls \
        behind gets a fresh `snapshot`, so it never has to guess what it missed. A comment is \
        sent every 15 s so proxies keep the stream open. The stream ends when the caller's \
        session or token ends (logout, revocation, account change, expiry) or when Limen shuts \
        down.\n\n\
        Events (`event:` name, then its JSON `data:`):\n\
        - `snapshot`: `{\"vms\": [Vm]}`, every VM the caller may see; replaces the list.\n\
        - `vm_created`, `vm_updated`: the `Vm` as it is now.\n\
        - `vm_deleted`: `{\"uuid\"}` of a VM that is gone.\n\
        - `vm_snapshots`: `{\"uuid\"}` of a VM whose snapshots changed.\n\
        - `media_changed`: `{}`; the ISO or base-image library changed.\n\
        - `hosts_changed`: `{}`; a host was added, changed, removed, lost or reached again.\n\
        - `operation_progress`: an `OperationProgress` (base images: admins only; snapshot work: \
        whoever may see the VM).\n\
        - `vm_gauges`: `{\"<uuid>\": [cpu, memory], …}`, whole percent or `null`, once per \
        statistics round, for the running VMs the caller may see.\n\
        - `error`: `{\"error\", \"code\"}` when the first snapshot cannot be made (e.g. \
        `DATABASE_UNAVAILABLE`, `HYPERVISOR_UNAVAILABLE`); the stream then ends.\n\n\
        An admin's stream carries every VM; a user's only their own. Any logged-in user.",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "Sent by a reconnecting \
            `EventSource`. Accepted, but the stream starts with a fresh `snapshot` either way."),
    ),
    responses(
        (status = 200, description = "The stream. Each event is described here as `{event, \
            data}`: `event:` names it, `data:` is its JSON.",
            content_type = "text/event-stream", body = LiveEvent),
    ),
    extensions(
        ("x-error-codes" = json!([])),
        ("x-sse-events" = json!([
            "snapshot", "vm_created", "vm_updated", "vm_deleted", "vm_snapshots",
            "media_changed", "hosts_changed", "operation_progress", "vm_gauges", "error"
        ])),
    ),
)]
pub async fn events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    if let Some(last) = headers.get("last-event-id") {
        tracing::debug!(last_event_id = ?last, "event stream resumed; sending a snapshot");
    }
    // A logout, a revoked token, a changed account or an expiry ends the stream at once.
    let ended = state.accounts.until_credential_ends(&caller).await?;
    let (receiver, last_id) = state.bus.subscribe();
    let vms = Arc::clone(&state.vms);
    let snapshot = move || {
        let vms = Arc::clone(&vms);
        async move { vms.list().await }
    };
    // Counted as an open stream while the response lives.
    let open = crate::metrics::event_stream_opened();
    let events = vm_events(
        receiver,
        last_id,
        snapshot,
        Viewer::Caller(caller),
        Some(state.vms.gauges()),
        state.shutdown.clone(),
    )
    .take_until(ended)
    .map(move |event| {
        let _open = &open;
        Ok(to_sse(event))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

fn to_sse(event: StreamEvent) -> Event {
    let sse = Event::default()
        .event(event.name)
        .id(event.id.to_string())
        .data(event.data);
    match event.retry {
        Some(retry) => sse.retry(retry),
        None => sse,
    }
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::Operation;
    use utoipa::{PartialSchema, Path};

    use super::*;

    /// The event names the operation announces are those its schema describes.
    #[test]
    fn the_announced_events_are_the_described_ones() {
        let operation: Operation = __path_events::operation();
        let announced: Vec<String> = serde_json::from_value(
            operation
                .extensions
                .expect("extensions")
                .get("x-sse-events")
                .expect("x-sse-events")
                .clone(),
        )
        .unwrap();
        let schema = serde_json::to_value(LiveEvent::schema()).unwrap();
        let described: Vec<String> = schema["oneOf"]
            .as_array()
            .expect("one schema per event")
            .iter()
            .map(|event| {
                event["properties"]["event"]["enum"][0]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(announced, described);
    }
}
