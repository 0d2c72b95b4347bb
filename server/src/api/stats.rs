//! Resource statistics: `GET /api/v1/vms/{uuid}/stats?range=1h|24h|7d|30d` and
//! `GET /api/v1/host/stats?range=…` (admins), and their live streams (`…/stats/live`: one
//! `point` event per collection round, Server-Sent Events).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use app::error::AppError;
use app::stats::{HostStats, HostStatsPoint, StatsRange, VmStats, VmStatsPoint};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt};

use super::vms::parse_vm_id;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::service::VmService;
use crate::state::AppState;

/// Comments sent on an idle stream (a stopped VM sends no points), so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// How far back the graph looks: `1h` (the default), `24h`, `7d` or `30d`.
    #[param(value_type = Option<StatsRange>)]
    range: Option<String>,
}

/// One event of a VM's live statistics stream, as `{event, data}`: on the wire, the SSE
/// `event:` line names it and its `data:` line is the JSON `data`.
#[derive(utoipa::ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
#[allow(dead_code)] // Describes the stream; the stream writes the same shape by hand.
pub enum VmStatsEvent {
    /// One collection round's point, sent while the VM runs.
    Point(VmStatsPoint),
}

/// One event of the host's live statistics stream, as `{event, data}`: on the wire, the SSE
/// `event:` line names it and its `data:` line is the JSON `data`.
#[derive(utoipa::ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
#[allow(dead_code)] // Describes the stream; the stream writes the same shape by hand.
pub enum HostStatsEvent {
    /// One collection round's point.
    Point(HostStatsPoint),
}

fn parse_range(query: &RangeQuery) -> Result<StatsRange, AppError> {
    match query.range.as_deref() {
        None | Some("") => Ok(StatsRange::Hour),
        Some(raw) => StatsRange::parse(raw).ok_or_else(|| {
            AppError::validation("The range must be one of 1h, 24h, 7d or 30d.".to_string())
        }),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/stats",
    operation_id = "getVmStats",
    tag = "stats",
    summary = "A VM's resource graphs",
    description = "The VM's CPU, memory, disk and network points over `range`, oldest first: \
        every collected point for `1h`, per-bucket means (`step_secs`) for the longer ranges. A \
        number libvirt did not report is `null`. Any user for their own VMs, an admin for any.",
    params(
        ("uuid" = String, Path, format = Uuid, description = "The VM's id."),
        RangeQuery,
    ),
    responses(
        (status = 200, description = "The VM's points over the range.", body = VmStats),
    ),
    extensions(("x-error-codes" = json!(["VM_NOT_FOUND"]))),
)]
pub async fn vm_stats(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    Query(query): Query<RangeQuery>,
) -> ApiResult<Json<VmStats>> {
    let id = parse_vm_id(&uuid)?;
    let range = parse_range(&query)?;
    Ok(Json(vms.vm_stats(&caller, id, range).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/host/stats",
    operation_id = "getHostStats",
    tag = "stats",
    summary = "The host's resource graphs and capacity",
    description = "The host's CPU, memory and data-directory points over `range`, and its \
        capacity now (CPUs and memory, and what Limen's VMs are given of them; `null` while \
        libvirt cannot be asked — the history is there all the same). Admins only (403 \
        `FORBIDDEN` for anyone else).",
    params(RangeQuery),
    responses(
        (status = 200, description = "The host's points over the range, and its capacity.",
            body = HostStats),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN"]))),
)]
pub async fn host_stats(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Query(query): Query<RangeQuery>,
) -> ApiResult<Json<HostStats>> {
    let range = parse_range(&query)?;
    Ok(Json(vms.host_stats(&caller, range).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/stats/live",
    operation_id = "streamVmStats",
    tag = "stats",
    summary = "A VM's resource points as they are collected (Server-Sent Events)",
    description = "A Server-Sent Events stream: one `point` event per collection round while the \
        VM runs, its data a JSON `VmStatsPoint` (the same as a point of `GET \
        /api/v1/vms/{uuid}/stats`). A stopped VM sends nothing until it runs again; a comment is \
        sent every 15 s so proxies keep the stream open. The stream ends when the caller's \
        session or token ends, or when Limen shuts down. Any user for their own VMs, an admin \
        for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 200, description = "The stream. Each event is described as `{event, data}`: \
            `event:` names it (`point`), `data:` is the JSON point.",
            content_type = "text/event-stream", body = VmStatsEvent),
    ),
    extensions(
        ("x-error-codes" = json!(["VM_NOT_FOUND"])),
        ("x-sse-events" = json!(["point"])),
    ),
)]
pub async fn vm_live(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = parse_vm_id(&uuid)?;
    let points = state
        .vms
        .vm_stats_live(&caller, id, state.shutdown.clone())
        .await?;
    let ended = state.accounts.until_credential_ends(&caller).await?;
    Ok(stream(points, ended))
}

#[utoipa::path(
    get,
    path = "/api/v1/host/stats/live",
    operation_id = "streamHostStats",
    tag = "stats",
    summary = "The host's resource points as they are collected (Server-Sent Events)",
    description = "A Server-Sent Events stream: one `point` event per collection round, its data \
        a JSON `HostStatsPoint` (the same as a point of `GET /api/v1/host/stats`); a comment \
        every 15 s keeps an idle stream open. The stream ends when the caller's session or token \
        ends, or when Limen shuts down. Admins only (403 `FORBIDDEN` for anyone else).",
    responses(
        (status = 200, description = "The stream. Each event is described as `{event, data}`: \
            `event:` names it (`point`), `data:` is the JSON point.",
            content_type = "text/event-stream", body = HostStatsEvent),
    ),
    extensions(
        ("x-error-codes" = json!(["FORBIDDEN"])),
        ("x-sse-events" = json!(["point"])),
    ),
)]
pub async fn host_live(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let points = state.vms.host_stats_live(&caller, state.shutdown.clone())?;
    let ended = state.accounts.until_credential_ends(&caller).await?;
    Ok(stream(points, ended))
}

/// The `point` events of a series, until the caller's credential ends.
fn stream(
    points: impl Stream<Item = String> + Send + 'static,
    ended: impl std::future::Future<Output = ()> + Send + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Counted as an open stream while the response lives.
    let open = crate::metrics::event_stream_opened();
    let events = points.take_until(ended).map(move |point| {
        let _open = &open;
        Ok(Event::default().event("point").data(point))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
