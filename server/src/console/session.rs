//! One console session, from the accepted WebSocket to its close and audit entry.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::types::VmId;
use futures::{Sink, Stream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::relay::{close_with, relay, Close, Ended, Frame};
use crate::service::{ConsoleKind, VmService};

/// What a session needs of the server.
#[derive(Clone)]
pub struct Session {
    pub vms: Arc<VmService>,
    /// Cancelled when the server shuts down: the session closes with 1001.
    pub shutdown: CancellationToken,
}

/// Close codes (RFC 6455 §7.4.1).
const NORMAL: u16 = 1000;
const GOING_AWAY: u16 = 1001;
const POLICY: u16 = 1008;
const SERVER_ERROR: u16 = 1011;

/// How a session ended, for the audit log.
enum Outcome {
    Refused(AppError),
    Client(Option<Close>),
    VmStopped,
    ConsoleClosed,
    Failed,
    CredentialEnded,
    ShuttingDown,
}

impl Outcome {
    fn describe(&self) -> String {
        match self {
            Outcome::Refused(error) => format!("refused: {}", error.message),
            Outcome::Client(Some(close)) if !close.reason.is_empty() => {
                format!("the client closed it ({})", close.reason)
            }
            Outcome::Client(_) => "the client closed it".into(),
            Outcome::VmStopped => "the VM stopped".into(),
            Outcome::ConsoleClosed => "the console's side closed".into(),
            Outcome::Failed => "the connection to the console failed".into(),
            Outcome::CredentialEnded => "the caller's session or token ended".into(),
            Outcome::ShuttingDown => "Limen shut down".into(),
        }
    }
}

/// Runs a session on an accepted WebSocket `ws` until it closes, then audits it. `ended`
/// completes when the caller's credential ends.
pub async fn run<W, E>(
    session: Session,
    mut ws: W,
    caller: Principal,
    id: VmId,
    kind: ConsoleKind,
    ended: impl Future<Output = ()> + Send,
) where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin + Send,
{
    let span =
        tracing::info_span!("console", vm = %id, user = %caller.username, kind = kind.as_str());
    async move {
        let opened_at = Instant::now();
        tracing::info!("console connection accepted");
        let outcome = serve(&session, &mut ws, &caller, id, kind, ended).await;
        let how = outcome.describe();
        tracing::info!(ended = %how, "console closed");
        session
            .vms
            .console_closed(&caller, id, kind, opened_at.elapsed(), &how)
            .await;
    }
    .instrument(span)
    .await;
}

async fn serve<W, E>(
    session: &Session,
    ws: &mut W,
    caller: &Principal,
    id: VmId,
    kind: ConsoleKind,
    ended: impl Future<Output = ()>,
) -> Outcome
where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin,
{
    let mut ended = std::pin::pin!(ended);
    let opened = tokio::select! {
        opened = session.vms.open_console(caller, id, kind) => opened,
        () = &mut ended => return credential_ended(ws).await,
        () = session.shutdown.cancelled() => return shutting_down(ws).await,
    };
    let console = match opened {
        Ok(console) => console,
        Err(error) => {
            let code = if error.status() >= 500 {
                SERVER_ERROR
            } else {
                NORMAL
            };
            close_with(ws, Some(&error), Close::new(code, &error.message)).await;
            return Outcome::Refused(error);
        }
    };
    tracing::info!("console open");
    let relayed = tokio::select! {
        relayed = relay(ws, console) => relayed,
        () = &mut ended => return credential_ended(ws).await,
        () = session.shutdown.cancelled() => return shutting_down(ws).await,
    };
    match relayed {
        Ended::Client(close) => {
            // Answer the client's close (the library queues the reply; this sends it).
            let _ = futures::SinkExt::close(ws).await;
            Outcome::Client(close)
        }
        Ended::Console => {
            if session.vms.console_vm_runs(id).await {
                close_with(ws, None, Close::new(NORMAL, "The console closed.")).await;
                Outcome::ConsoleClosed
            } else {
                let stopped = AppError::new(ErrorCode::VmNotRunning, "The VM stopped.");
                close_with(ws, Some(&stopped), Close::new(NORMAL, &stopped.message)).await;
                Outcome::VmStopped
            }
        }
        Ended::ConsoleFailed(error) => {
            tracing::warn!(%error, "a console connection failed");
            let failed = AppError::new(
                match kind {
                    ConsoleKind::Vnc => ErrorCode::VncUnavailable,
                    ConsoleKind::Serial => ErrorCode::SerialUnavailable,
                },
                "The connection to the console failed.",
            );
            close_with(ws, Some(&failed), Close::new(SERVER_ERROR, &failed.message)).await;
            Outcome::Failed
        }
    }
}

async fn credential_ended<W: Sink<Frame> + Unpin>(ws: &mut W) -> Outcome {
    let error = AppError::new(
        ErrorCode::Unauthorized,
        "Your session ended (logged out, token revoked, or account changed).",
    );
    close_with(ws, Some(&error), Close::new(POLICY, "Your session ended.")).await;
    Outcome::CredentialEnded
}

async fn shutting_down<W: Sink<Frame> + Unpin>(ws: &mut W) -> Outcome {
    close_with(ws, None, Close::new(GOING_AWAY, "Limen is shutting down.")).await;
    Outcome::ShuttingDown
}
