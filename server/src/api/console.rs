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
#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/console",
    operation_id = "openVncConsole",
    tag = "consoles",
    summary = "The VM's graphical console (VNC), as a WebSocket",
    description = "A WebSocket relaying the VM's VNC server: binary messages carry the RFB \
        protocol both ways, byte for byte, as noVNC speaks it (offer the subprotocol `binary`; \
        the RFB handshake, including any VNC authentication, is between the client and the VM's \
        VNC server). Authenticate with the session cookie (then the request must carry Limen's \
        own `Origin`, as browsers do, else 403 `FORBIDDEN`), a Bearer token, or a one-time \
        `?ticket=` from `POST /api/v1/vms/{uuid}/console/ticket` (for clients that cannot send \
        either; a ticket that was used, expired or is for another VM is 401 `UNAUTHORIZED`). \
        Everything that can be refused is refused before the upgrade, as a plain HTTP error: the \
        VM must be visible to the caller (404 `VM_NOT_FOUND`) and running (409 `VM_NOT_RUNNING`; \
        with `LIMEN_CONSOLE_AUTOSTART` on, the default, a stopped, crashed or paused VM is \
        started or resumed after the upgrade instead), and the caller within the limits of open \
        consoles (32 per user who is not an admin, 4096 in all: 429 `RATE_LIMITED`). A request \
        that is not a WebSocket upgrade is 426 `UPGRADE_REQUIRED` (a ticket is not used up by \
        it). Over HTTP/2 the endpoint takes an extended CONNECT (RFC 8441) instead of the GET. \
        Any user for their own VMs, an admin for any.\n\n\
        The server pings every 30 s and drops a client it has not heard from in 75 s. A client \
        message may be at most 64 KiB. The session ends with a close frame, preceded by a text \
        message `{\"error\", \"code\"}` when there is an error to tell: 1000 when the VM stopped \
        (`VM_NOT_RUNNING`) or its console closed; 1001 when Limen shuts down; 1008 when the \
        caller's session or token ended (`UNAUTHORIZED`) or the console was refused; 1011 when \
        the console could not be opened or was lost (`VNC_UNAVAILABLE`, `VM_START_FAILED` when \
        an autostarted VM did not come up within 30 s, `HYPERVISOR_UNAVAILABLE`).",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    security(("session" = []), ("bearer" = []), ("console_ticket" = [])),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket is open (subprotocol \
            `binary` if the client offered it). Both ways, binary messages carry RFB bytes; a \
            text message from the client is sent to the VNC server as its UTF-8 bytes. The \
            server sends text only to say why it closes: `{\"error\", \"code\"}` before its \
            close frame."),
    ),
    extensions(
        ("x-error-codes" = json!([
            "UPGRADE_REQUIRED", "FORBIDDEN", "VM_NOT_FOUND", "VM_NOT_RUNNING", "RATE_LIMITED",
            "HYPERVISOR_UNAVAILABLE"
        ])),
        ("x-websocket" = json!(true)),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/serial",
    operation_id = "openSerialConsole",
    tag = "consoles",
    summary = "The VM's serial console, as a WebSocket",
    description = "A WebSocket relaying the guest's first serial port (libvirt's console \
        stream), as a terminal such as xterm.js reads and writes it: the server sends the port's \
        output as binary messages; the client sends keystrokes as binary or text messages (text \
        is sent as its UTF-8 bytes). The guest must have a serial console (e.g. `console=ttyS0` \
        on Linux) for anything to appear. Authenticate with the session cookie (then the request \
        must carry Limen's own `Origin`, as browsers do, else 403 `FORBIDDEN`), a Bearer token, \
        or a one-time `?ticket=` from `POST /api/v1/vms/{uuid}/console/ticket` (for clients that \
        cannot send either; a ticket that was used, expired or is for another VM is 401 \
        `UNAUTHORIZED`). Everything that can be refused is refused before the upgrade, as a \
        plain HTTP error: the VM must be visible to the caller (404 `VM_NOT_FOUND`) and running \
        (409 `VM_NOT_RUNNING`; with `LIMEN_CONSOLE_AUTOSTART` on, the default, a stopped, \
        crashed or paused VM is started or resumed after the upgrade instead), and the caller \
        within the limits of open consoles (32 per user who is not an admin, 4096 in all: 429 \
        `RATE_LIMITED`). A request that is not a WebSocket upgrade is 426 `UPGRADE_REQUIRED` (a \
        ticket is not used up by it). Over HTTP/2 the endpoint takes an extended CONNECT (RFC \
        8441) instead of the GET. Any user for their own VMs, an admin for any.\n\n\
        The server pings every 30 s and drops a client it has not heard from in 75 s. A client \
        message may be at most 64 KiB. The session ends with a close frame, preceded by a text \
        message `{\"error\", \"code\"}` when there is an error to tell: 1000 when the VM stopped \
        (`VM_NOT_RUNNING`) or its console closed; 1001 when Limen shuts down; 1008 when the \
        caller's session or token ended (`UNAUTHORIZED`) or the console was refused; 1011 when \
        the console could not be opened or was lost (`SERIAL_UNAVAILABLE`, `VM_START_FAILED` \
        when an autostarted VM did not come up within 30 s, `HYPERVISOR_UNAVAILABLE`).",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    security(("session" = []), ("bearer" = []), ("console_ticket" = [])),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket is open (subprotocol \
            `binary` if the client offered it). Server to client: binary messages with the \
            serial port's output bytes. Client to server: binary or text messages, written to \
            the port as bytes. The server sends text only to say why it closes: `{\"error\", \
            \"code\"}` before its close frame."),
    ),
    extensions(
        ("x-error-codes" = json!([
            "UPGRADE_REQUIRED", "FORBIDDEN", "VM_NOT_FOUND", "VM_NOT_RUNNING", "RATE_LIMITED",
            "HYPERVISOR_UNAVAILABLE"
        ])),
        ("x-websocket" = json!(true)),
    ),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/console/ticket",
    operation_id = "createConsoleTicket",
    tag = "consoles",
    summary = "A one-time ticket to open the VM's console",
    description = "For a WebSocket client that cannot send the session cookie or an \
        `Authorization` header: the ticket, passed as `?ticket=` to `GET \
        /api/v1/vms/{uuid}/console` or `…/serial`, lets one connection to this VM's consoles in, \
        as the caller, within 30 s; it is used up by its first try. Refused now as the upgrade \
        would refuse it (404 `VM_NOT_FOUND`, 409 `VM_NOT_RUNNING`, 429 `RATE_LIMITED`), so a \
        browser can read why. No request body. Any user for their own VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 201, description = "The ticket and when it expires.", body = ConsoleTicket),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "VM_NOT_RUNNING", "RATE_LIMITED", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
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
