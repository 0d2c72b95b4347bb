//! `GET /api/v1/vms/{uuid}/console` and `…/serial`: WebSockets to a VM's graphical console (RFB
//! bytes, as noVNC speaks them) and serial console; `POST …/console/ticket`: a one-time ticket
//! for clients that cannot send credentials. Everything that can be refused is refused here,
//! before the upgrade, as a plain HTTP error; the session itself is `console::run`.

use std::sync::Arc;

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::ports::ClientAddress;
use app::types::{ConsoleTicket, VmId};
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;

use super::vms::parse_vm_id;
use crate::auth::extract::Caller;
use crate::auth::middleware::{by_cookie, from_own_origin};
use crate::console::relay::{Close, Frame};
use crate::console::{self, Session};
use crate::error::ApiResult;
use crate::service::ConsoleKind;
use crate::state::AppState;

/// The largest message a console client may send (keystrokes, pointer events, a paste).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
pub struct ConsoleQuery {
    /// A ticket from `POST …/console/ticket`, instead of a credential.
    ticket: Option<String>,
}

// One argument per extractor: axum's way of taking a request apart.
#[allow(clippy::too_many_arguments)]
pub async fn vnc(
    state: State<AppState>,
    path: Path<String>,
    query: Result<Query<ConsoleQuery>, QueryRejection>,
    caller: Option<Extension<Principal>>,
    address: Option<Extension<ClientAddress>>,
    uri: OriginalUri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let request = Request {
        path,
        query,
        caller,
        address,
        uri,
        headers,
    };
    accept(state, request, upgrade, ConsoleKind::Vnc).await
}

#[allow(clippy::too_many_arguments)]
pub async fn serial(
    state: State<AppState>,
    path: Path<String>,
    query: Result<Query<ConsoleQuery>, QueryRejection>,
    caller: Option<Extension<Principal>>,
    address: Option<Extension<ClientAddress>>,
    uri: OriginalUri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let request = Request {
        path,
        query,
        caller,
        address,
        uri,
        headers,
    };
    accept(state, request, upgrade, ConsoleKind::Serial).await
}

pub async fn ticket(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<(StatusCode, Json<ConsoleTicket>)> {
    let id = parse_vm_id(&uuid)?;
    Ok((
        StatusCode::CREATED,
        Json(state.vms.console_ticket(&caller, id).await?),
    ))
}

/// What the upgrade request brought.
struct Request {
    path: Path<String>,
    query: Result<Query<ConsoleQuery>, QueryRejection>,
    caller: Option<Extension<Principal>>,
    address: Option<Extension<ClientAddress>>,
    uri: OriginalUri,
    headers: HeaderMap,
}

async fn accept(
    State(state): State<AppState>,
    request: Request,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    kind: ConsoleKind,
) -> ApiResult<Response> {
    let id = parse_vm_id(&request.path.0)?;
    let address = request.address.as_ref().and_then(|address| address.0 .0);
    let mut caller = None;
    let accepted = async {
        let ticket = match &request.query {
            Ok(Query(query)) => query.ticket.clone(),
            Err(_) => return Err(AppError::validation("The query string is not understood.")),
        };
        // A request that is not a WebSocket is told so before a ticket is used up.
        if ticket.is_some() && upgrade.is_err() {
            return Err(not_a_websocket());
        }
        let who = who(&state, &request, ticket.as_deref(), id, &mut caller).await?;
        // Watched from now on: the session closes when the credential ends.
        let ended = state.accounts.until_credential_ends(&who).await?;
        state.vms.console_gate(&who, id).await?;
        let permit = state.vms.console_permit(&who)?;
        Ok((who, ended, permit))
    }
    .await;
    let (caller, ended, permit) = match accepted {
        Ok(accepted) => accepted,
        Err(error) => {
            state
                .vms
                .console_refused(caller.as_ref(), address, id, kind, &error)
                .await;
            return Err(error.into());
        }
    };
    // An authorised caller who did not ask for a WebSocket: said so, unaudited.
    let upgrade = upgrade.map_err(|_| not_a_websocket())?;
    let session = Session {
        vms: Arc::clone(&state.vms),
        shutdown: state.shutdown.clone(),
    };
    // Sessions are tracked like operations: a shutdown closes them (1001) and waits for them.
    let tasks = state.tasks.clone();
    let response = upgrade
        .protocols(["binary"])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        // An idle console holds little: tungstenite's default read buffer is 128 KiB.
        .read_buffer_size(4 * 1024)
        .on_upgrade(move |socket| {
            tasks.track_future(console::run(
                session,
                frames(socket),
                caller,
                id,
                kind,
                ended,
                permit,
            ))
        });
    Ok(response.into_response())
}

fn not_a_websocket() -> AppError {
    AppError::new(
        ErrorCode::UpgradeRequired,
        "This is a WebSocket endpoint: connect to it with a WebSocket client.",
    )
}

/// The caller: a ticket's holder (as their credential says now: a role may have changed since
/// the ticket was taken), else the credential the authentication layer found — by the session
/// cookie only from Limen's own pages (`Origin`), as every state-changing request. Whoever is
/// known is left in `known`, for the audit of a refusal.
async fn who(
    state: &AppState,
    request: &Request,
    ticket: Option<&str>,
    id: VmId,
    known: &mut Option<Principal>,
) -> Result<Principal, AppError> {
    let address = request.address.as_ref().and_then(|address| address.0 .0);
    if let Some(ticket) = ticket {
        let holder = state.vms.redeem_console_ticket(ticket, id)?;
        *known = Some(holder.clone());
        let mut holder = state.accounts.current(&holder).await?;
        holder.address = address.or(holder.address);
        *known = Some(holder.clone());
        return Ok(holder);
    }
    let Some(Extension(caller)) = request.caller.clone() else {
        return Err(AppError::unauthorized());
    };
    *known = Some(caller.clone());
    let authority = request.uri.authority().map(|authority| authority.as_str());
    if by_cookie(&request.headers) && !from_own_origin(&request.headers, authority, &state.site) {
        tracing::warn!(vm = %id, "a console request by cookie from another origin refused");
        return Err(AppError::forbidden(
            "A console opened with the session cookie must come from Limen's own pages.",
        ));
    }
    Ok(caller)
}

/// axum's WebSocket as the relay's frames.
fn frames(
    socket: WebSocket,
) -> impl Stream<Item = Result<Frame, axum::Error>> + Sink<Frame, Error = axum::Error> + Unpin + Send
{
    socket
        .map(|message| message.map(to_frame))
        .with(|frame| futures::future::ready(Ok::<_, axum::Error>(to_message(frame))))
}

fn to_frame(message: Message) -> Frame {
    match message {
        Message::Binary(bytes) => Frame::Binary(bytes),
        Message::Text(text) => Frame::Text(text.to_string()),
        Message::Close(close) => Frame::Close(close.map(|close| Close {
            code: close.code,
            reason: close.reason.to_string(),
        })),
        Message::Ping(_) | Message::Pong(_) => Frame::Control,
    }
}

fn to_message(frame: Frame) -> Message {
    match frame {
        Frame::Binary(bytes) => Message::Binary(bytes),
        Frame::Text(text) => Message::Text(text.into()),
        Frame::Close(close) => Message::Close(close.map(|close| CloseFrame {
            code: close.code,
            reason: close.reason.into(),
        })),
        Frame::Control => Message::Ping(Default::default()),
    }
}
