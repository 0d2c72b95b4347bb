//! One console session, from the accepted WebSocket to its close and audit entries.

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
use crate::service::{ConsoleKind, ConsolePermit, VmService, VmState};

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
    ClientError(String),
    ClientSilent,
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
                // The client's words, kept printable for the log and the audit.
                let reason: String = close.reason.chars().filter(|c| !c.is_control()).collect();
                format!("the client closed it ({reason})")
            }
            Outcome::Client(_) => "the client closed it".into(),
            Outcome::ClientError(error) => {
                let error: String = error.chars().filter(|c| !c.is_control()).collect();
                format!("the client's connection ended ({error})")
            }
            Outcome::ClientSilent => "the client stopped answering".into(),
            Outcome::VmStopped => "the VM stopped".into(),
            Outcome::ConsoleClosed => "the console's side closed".into(),
            Outcome::Failed => "the connection to the console failed".into(),
            Outcome::CredentialEnded => "the caller's session or token ended".into(),
            Outcome::ShuttingDown => "Limen shut down".into(),
        }
    }
}

/// The close code for an error said after the upgrade: the server's fault, a refusal, or a VM
/// that is simply not running.
fn close_code(error: &AppError) -> u16 {
    match error.code {
        ErrorCode::VmNotRunning => NORMAL,
        _ if error.status() >= 500 => SERVER_ERROR,
        _ => POLICY,
    }
}

/// Runs a session on an accepted WebSocket `ws` until it closes, then audits it. `ended`
/// completes when the caller's credential ends; `permit` is the session's place in the limits.
pub async fn run<W, E>(
    session: Session,
    mut ws: W,
    caller: Principal,
    id: VmId,
    kind: ConsoleKind,
    ended: impl Future<Output = ()> + Send,
    permit: ConsolePermit,
) where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin + Send,
    E: std::fmt::Display,
{
    let span =
        tracing::info_span!("console", vm = %id, user = %caller.username, kind = kind.as_str());
    async move {
        let _permit = permit;
        let _open = crate::metrics::console_opened(kind.as_str());
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
    E: std::fmt::Display,
{
    let vms = &session.vms;
    let mut ended = std::pin::pin!(ended);
    let opened = tokio::select! {
        opened = vms.open_console(caller, id, kind) => opened,
        () = &mut ended => {
            vms.console_opened(caller, id, kind, Err(&credential_ended_error()));
            return credential_ended(ws).await;
        }
        () = session.shutdown.cancelled() => {
            vms.console_opened(caller, id, kind, Err(&shutting_down_error()));
            return shutting_down(ws).await;
        }
    };
    let console = match opened {
        Ok(console) => {
            vms.console_opened(caller, id, kind, Ok(()));
            console
        }
        Err(error) => {
            vms.console_opened(caller, id, kind, Err(&error));
            close_with(
                ws,
                Some(&error),
                Close::new(close_code(&error), &error.message),
            )
            .await;
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
            // Answer the client's close (the library queued the reply; this sends it).
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                futures::SinkExt::close(ws),
            )
            .await;
            Outcome::Client(close)
        }
        // Gone without a close, or a message over the limit: the connection is over either way.
        Ended::ClientError(error) => Outcome::ClientError(error),
        // Gone without a word: a close frame would not reach it either.
        Ended::ClientSilent => Outcome::ClientSilent,
        // The VM's side closed, or failed (noVNC's next write to a VNC server that is gone
        // fails before the end of its stream is read): did the VM stop?
        Ended::Console | Ended::ConsoleFailed(_) => {
            if let Ended::ConsoleFailed(error) = &relayed {
                tracing::info!(%error, "a console's connection to the VM failed");
            }
            match vms.console_vm_state(id).await {
                VmState::Stopped => {
                    let stopped = AppError::new(ErrorCode::VmNotRunning, "The VM stopped.");
                    close_with(ws, Some(&stopped), Close::new(NORMAL, &stopped.message)).await;
                    Outcome::VmStopped
                }
                VmState::Runs if matches!(relayed, Ended::Console) => {
                    close_with(ws, None, Close::new(NORMAL, "The console closed.")).await;
                    Outcome::ConsoleClosed
                }
                VmState::Runs | VmState::Unknown => {
                    let failed = AppError::new(
                        match kind {
                            ConsoleKind::Vnc => ErrorCode::VncUnavailable,
                            ConsoleKind::Serial => ErrorCode::SerialUnavailable,
                        },
                        "The connection to the console was lost.",
                    );
                    close_with(ws, Some(&failed), Close::new(SERVER_ERROR, &failed.message)).await;
                    Outcome::Failed
                }
            }
        }
    }
}

fn credential_ended_error() -> AppError {
    AppError::new(
        ErrorCode::Unauthorized,
        "Your session ended (logged out, token revoked, or account changed).",
    )
}

fn shutting_down_error() -> AppError {
    AppError::new(ErrorCode::HypervisorUnavailable, "Limen is shutting down.")
}

async fn credential_ended<W, E>(ws: &mut W) -> Outcome
where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin,
{
    let error = credential_ended_error();
    close_with(ws, Some(&error), Close::new(POLICY, "Your session ended.")).await;
    Outcome::CredentialEnded
}

async fn shutting_down<W, E>(ws: &mut W) -> Outcome
where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin,
{
    close_with(ws, None, Close::new(GOING_AWAY, "Limen is shutting down.")).await;
    Outcome::ShuttingDown
}
