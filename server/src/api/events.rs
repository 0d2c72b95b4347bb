//! `GET /api/v1/events`: Server-Sent Events (SPEC §5). A snapshot first, then deltas, each
//! with an id; a client that reconnects (with or without `Last-Event-ID`) or falls behind gets
//! a fresh snapshot, so it never has to guess what it missed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};

use crate::access::Viewer;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::live::stream::{vm_events, StreamEvent};
use crate::state::AppState;

/// Comments sent on an idle stream, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Only the VMs the caller may see: a user's stream never carries another user's VM.
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
