//! Resource statistics: `GET /api/v1/vms/{uuid}/stats?range=1h|24h|7d|30d` and
//! `GET /api/v1/host/stats?range=…` (admins), and their live streams (`…/stats/live`: one
//! `point` event per collection round, Server-Sent Events).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use app::error::AppError;
use app::stats::{HostStats, StatsRange, VmStats};
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

#[derive(serde::Deserialize)]
pub struct RangeQuery {
    range: Option<String>,
}

fn parse_range(query: &RangeQuery) -> Result<StatsRange, AppError> {
    match query.range.as_deref() {
        None | Some("") => Ok(StatsRange::Hour),
        Some(raw) => StatsRange::parse(raw).ok_or_else(|| {
            AppError::validation("The range must be one of 1h, 24h, 7d or 30d.".to_string())
        }),
    }
}

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

pub async fn host_stats(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Query(query): Query<RangeQuery>,
) -> ApiResult<Json<HostStats>> {
    let range = parse_range(&query)?;
    Ok(Json(vms.host_stats(&caller, range).await?))
}

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
