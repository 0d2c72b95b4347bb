//! Consoles (SPEC §7): who may open one, the VM made ready for it (started, or resumed, when
//! autostart is on — through the same verbs as a click on Start, with their lock and audit),
//! the endpoint reached, one-time tickets for clients that cannot send credentials, and the
//! audit of every session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::ports::VmPort;
use app::types::{ConsoleTicket, Vm, VmAction, VmId, VmStatus};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast::error::RecvError;

use super::records::visible;
use super::VmService;
use crate::audit::Entry;
use crate::auth::secret::{hash_secret, new_random_secret};
use crate::error::{chain, report};
use crate::host::HostError;
use crate::live::VmChange;

/// How long a console ticket may wait to be used.
const TICKET_LIFETIME: Duration = Duration::from_secs(30);
/// Tickets a user may hold at once (the oldest goes first).
const TICKETS_PER_USER: usize = 16;
/// Consoles open at once: in all (each holds a connection to QEMU and two sockets), and per
/// user who is not an admin.
const CONSOLES_IN_ALL: usize = 4096;
const CONSOLES_PER_USER: usize = 32;
/// How long a console waits for the VM it started to be running.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a console whose VM side closed waits for libvirt to say the VM stopped.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What a console learns of its VM when the VM's side closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmState {
    Runs,
    Stopped,
    /// libvirt or the database could not tell.
    Unknown,
}

/// Which console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleKind {
    /// The graphical console: the VM's VNC server, RFB bytes.
    Vnc,
    /// The guest's first serial port, through libvirt's console stream.
    Serial,
}

impl ConsoleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleKind::Vnc => "vnc",
            ConsoleKind::Serial => "serial",
        }
    }
}

/// The byte stream of an open console.
pub trait ConsoleIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ConsoleIo for T {}

/// What a console needs done to a VM before it can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Readiness {
    Ready,
    Start,
    Resume,
}

/// The rule, without I/O: a console opens on a running VM; with autostart, a stopped (or
/// crashed) VM is started and a paused one resumed first; anything else is refused, in words.
pub(super) fn readiness(vm: &Vm, autostart: bool) -> Result<Readiness, AppError> {
    let need = match vm.status {
        VmStatus::Running => return Ok(Readiness::Ready),
        VmStatus::Stopped | VmStatus::Crashed => Readiness::Start,
        VmStatus::Paused => Readiness::Resume,
        other => {
            return Err(AppError::new(
                ErrorCode::VmNotRunning,
                format!(
                    "\"{}\" is {}: its console opens once it runs.",
                    vm.name,
                    other.label().to_lowercase()
                ),
            ))
        }
    };
    if autostart {
        return Ok(need);
    }
    Err(AppError::new(
        ErrorCode::VmNotRunning,
        format!(
            "\"{}\" is {}; start it to use its console (Limen starts it by itself only with \
             LIMEN_CONSOLE_AUTOSTART on).",
            vm.name,
            vm.status.label().to_lowercase()
        ),
    ))
}

/// Issued console tickets, by the hash of their secret.
#[derive(Default)]
pub(super) struct Tickets(Mutex<HashMap<String, Ticket>>);

struct Ticket {
    holder: Principal,
    vm: VmId,
    expires: Instant,
}

impl Tickets {
    fn issue(&self, holder: Principal, vm: VmId) -> ConsoleTicket {
        let secret = new_random_secret();
        let now = Instant::now();
        let mut tickets = self.0.lock().unwrap_or_else(|p| p.into_inner());
        tickets.retain(|_, ticket| ticket.expires > now);
        // A user holds a few at most: the oldest of theirs makes room.
        let mut theirs: Vec<(String, Instant)> = tickets
            .iter()
            .filter(|(_, ticket)| ticket.holder.username == holder.username)
            .map(|(hash, ticket)| (hash.clone(), ticket.expires))
            .collect();
        if theirs.len() >= TICKETS_PER_USER {
            theirs.sort_by_key(|(_, expires)| *expires);
            for (hash, _) in &theirs[..=theirs.len() - TICKETS_PER_USER] {
                tickets.remove(hash);
            }
        }
        tickets.insert(
            hash_secret(&secret),
            Ticket {
                holder,
                vm,
                expires: now + TICKET_LIFETIME,
            },
        );
        ConsoleTicket {
            ticket: secret,
            expires_at: chrono::Utc::now()
                + chrono::TimeDelta::from_std(TICKET_LIFETIME).unwrap_or_default(),
        }
    }

    /// The holder of a valid ticket for `vm`, which is used up (also when it is for another VM
    /// or expired: a ticket is tried once).
    fn redeem(&self, secret: &str, vm: VmId) -> Option<Principal> {
        let ticket = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&hash_secret(secret))?;
        (ticket.vm == vm && ticket.expires > Instant::now()).then_some(ticket.holder)
    }

    #[cfg(feature = "failpoints")]
    fn expire_all(&self) {
        let past = Instant::now();
        for ticket in self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values_mut()
        {
            ticket.expires = past;
        }
    }
}

/// Open consoles per user.
type OpenPerUser = Arc<Mutex<HashMap<String, usize>>>;

/// Consoles open now, in all and per user.
pub(super) struct Limits {
    all: Arc<tokio::sync::Semaphore>,
    per_user: OpenPerUser,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            all: Arc::new(tokio::sync::Semaphore::new(CONSOLES_IN_ALL)),
            per_user: Arc::default(),
        }
    }
}

/// One open console's place in the limits, given back when dropped.
pub struct ConsolePermit {
    _all: tokio::sync::OwnedSemaphorePermit,
    user: Option<(OpenPerUser, String)>,
}

impl Drop for ConsolePermit {
    fn drop(&mut self) {
        if let Some((counts, username)) = &self.user {
            let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(count) = counts.get_mut(username) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(username);
                }
            }
        }
    }
}

fn invalid_ticket() -> AppError {
    AppError::new(
        ErrorCode::Unauthorized,
        "The console ticket is not valid: it was used, it expired, or it is for another VM.",
    )
}

impl VmService {
    /// A ticket that lets one connection to this VM's consoles in, as the caller, within 30 s.
    pub async fn console_ticket(
        &self,
        caller: &Principal,
        id: VmId,
    ) -> Result<ConsoleTicket, AppError> {
        // Refused now as the upgrade would refuse it: a browser cannot read why an upgrade was
        // refused, but it can read this answer.
        self.console_gate(caller, id).await?;
        drop(self.console_permit(caller)?);
        Ok(self.tickets.issue(caller.clone(), id))
    }

    /// Whom a ticket for this VM lets in (using the ticket up), as they were when they took it: the
    /// caller refreshes the principal from its credential.
    pub fn redeem_console_ticket(&self, secret: &str, id: VmId) -> Result<Principal, AppError> {
        self.tickets.redeem(secret, id).ok_or_else(invalid_ticket)
    }

    /// A place for one more open console, if there is one (in all, and for a user who is not
    /// an admin, among theirs).
    pub fn console_permit(&self, caller: &Principal) -> Result<ConsolePermit, AppError> {
        let too_many = |message: String| AppError::new(ErrorCode::RateLimited, message);
        let all = Arc::clone(&self.console_limits.all)
            .try_acquire_owned()
            .map_err(|_| {
                too_many("Too many consoles are open on this server; try again later.".into())
            })?;
        if caller.is_admin() {
            return Ok(ConsolePermit {
                _all: all,
                user: None,
            });
        }
        let counts = Arc::clone(&self.console_limits.per_user);
        {
            let mut open = counts.lock().unwrap_or_else(|p| p.into_inner());
            let count = open.entry(caller.username.clone()).or_default();
            if *count >= CONSOLES_PER_USER {
                return Err(too_many(format!(
                    "You have {CONSOLES_PER_USER} consoles open; close one first."
                )));
            }
            *count += 1;
        }
        Ok(ConsolePermit {
            _all: all,
            user: Some((counts, caller.username.clone())),
        })
    }

    /// Tests only: every issued ticket expires now.
    #[cfg(feature = "failpoints")]
    pub fn expire_console_tickets(&self) {
        self.tickets.expire_all();
    }

    /// What can be decided before a console connection is accepted: the caller may see the VM,
    /// and it runs or may be made to run.
    pub async fn console_gate(&self, caller: &Principal, id: VmId) -> Result<Vm, AppError> {
        let vm = visible(&self.cx, caller, id.0).await.map_err(report)?;
        readiness(&vm, self.settings.console_autostart)?;
        Ok(vm)
    }

    /// The opening of a console session (or its failure, or its being cut short), for the
    /// audit log. Recorded detached: a session that ends meanwhile cannot drop it.
    pub fn console_opened(
        &self,
        caller: &Principal,
        id: VmId,
        kind: ConsoleKind,
        outcome: Result<(), &AppError>,
    ) {
        let entry = Entry::by(caller, "vm.console")
            .target(id.0.to_string())
            .detail(format!("{} console: opened", kind.as_str()))
            .outcome(&outcome.map_err(Clone::clone));
        let audit = self.audit.clone();
        self.cx
            .tasks
            .spawn(async move { audit.record(entry).await });
    }

    /// A console refused before it was accepted (no or a bad credential, another site, not
    /// visible, not running), for the audit log.
    pub async fn console_refused(
        &self,
        caller: Option<&Principal>,
        address: Option<std::net::IpAddr>,
        id: VmId,
        kind: ConsoleKind,
        error: &AppError,
    ) {
        let entry = match caller {
            Some(caller) => Entry::by(caller, "vm.console"),
            None => Entry::anonymous(address, "vm.console"),
        };
        let entry = entry
            .target(id.0.to_string())
            .detail(format!("{} console: refused", kind.as_str()))
            .outcome(&Err::<(), _>(error.clone()));
        self.audit.record(entry).await;
    }

    /// Opens a console: makes the VM ready (started or resumed if the rule says so, then
    /// running by libvirt's word — all within a bounded wait), then reaches its VNC server or
    /// serial port.
    pub async fn open_console(
        &self,
        caller: &Principal,
        id: VmId,
        kind: ConsoleKind,
    ) -> Result<Box<dyn ConsoleIo>, AppError> {
        let vm = visible(&self.cx, caller, id.0).await.map_err(report)?;
        let action = match readiness(&vm, self.settings.console_autostart)? {
            Readiness::Ready => None,
            Readiness::Start => Some(VmAction::Start),
            Readiness::Resume => Some(VmAction::Resume),
        };
        if let Some(action) = action {
            let ready = async {
                // Subscribed before acting, so the running event cannot slip past.
                let (mut events, _) = self.cx.bus.subscribe();
                let vm = match self.act_on_vm(caller, id, action).await {
                    Ok(vm) => vm,
                    // Another console (or a click) started it meanwhile: the start is the
                    // action's own business, a running VM is what this one needs.
                    Err(refused) if refused.code == ErrorCode::InvalidState => {
                        self.get_vm(caller, id).await?
                    }
                    Err(error) => return Err(error),
                };
                if vm.status != VmStatus::Running {
                    self.wait_running(&mut events, caller, id).await?;
                }
                Ok(())
            };
            // The VM's lock may be held by a long operation: the whole wait is bounded.
            tokio::time::timeout(START_TIMEOUT, ready)
                .await
                .unwrap_or_else(|_| Err(not_started()))?;
        }
        let host = self
            .cx
            .hosts
            .get(&self.row_host(id).await?)
            .map_err(report)?
            .clone();
        match kind {
            ConsoleKind::Vnc => {
                let endpoint = match host.open_vnc(id.0).await {
                    Ok(Some(endpoint)) => endpoint,
                    Ok(None) => {
                        return Err(AppError::new(
                            ErrorCode::VncUnavailable,
                            format!("\"{}\" has no VNC display.", vm.name),
                        ))
                    }
                    Err(error) => return Err(unreachable_console(kind, &vm, error)),
                };
                let stream = endpoint.connect().await.map_err(|error| {
                    tracing::warn!(vm = %id, %error, "cannot connect to a VM's VNC server");
                    AppError::new(
                        ErrorCode::VncUnavailable,
                        format!("The display of \"{}\" cannot be reached.", vm.name),
                    )
                })?;
                Ok(Box::new(stream))
            }
            ConsoleKind::Serial => match host.open_serial(id.0).await {
                Ok(console) => Ok(Box::new(console.into_io())),
                Err(error) => Err(unreachable_console(kind, &vm, error)),
            },
        }
    }

    /// The key of the host a VM lives on.
    async fn row_host(&self, id: VmId) -> Result<String, AppError> {
        let row = super::records::fetch_row(&self.cx, id.0)
            .await
            .map_err(report)?;
        Ok(row.host)
    }

    /// Waits until the stream of changes says the VM runs (the caller bounds the wait); a VM
    /// that stops or crashes instead did not start.
    async fn wait_running(
        &self,
        events: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<crate::live::bus::BusEvent>>,
        caller: &Principal,
        id: VmId,
    ) -> Result<(), AppError> {
        let wait = async {
            loop {
                match events.recv().await {
                    Ok(event) => match &event.change {
                        VmChange::Updated(vm) | VmChange::Created(vm)
                            if vm.uuid == id && vm.status == VmStatus::Running =>
                        {
                            return Ok(());
                        }
                        VmChange::Updated(vm)
                            if vm.uuid == id
                                && matches!(vm.status, VmStatus::Stopped | VmStatus::Crashed) =>
                        {
                            return Err(AppError::new(
                                ErrorCode::VmStartFailed,
                                format!("\"{}\" stopped right after it started.", vm.name),
                            ));
                        }
                        VmChange::Deleted { uuid, .. } if *uuid == id => {
                            return Err(AppError::vm_not_found());
                        }
                        _ => {}
                    },
                    // Fell behind: what it missed may have been the news; ask.
                    Err(RecvError::Lagged(_)) => {
                        if self.get_vm(caller, id).await?.status == VmStatus::Running {
                            return Ok(());
                        }
                    }
                    Err(RecvError::Closed) => return Err(not_started()),
                }
            }
        };
        wait.await
    }

    /// Whether the VM still runs, by libvirt's word (its record follows a moment later): what
    /// a console whose other side closed asks, to say whether the VM stopped. QEMU closes its
    /// display and serial port a moment before libvirt sees it exit, so a VM libvirt still
    /// calls running gets a moment (bounded) for its stop to arrive. What is learnt is recorded
    /// and published like any observation.
    pub async fn console_vm_state(&self, id: VmId) -> VmState {
        let Ok(row) = super::records::fetch_row(&self.cx, id.0).await else {
            return VmState::Stopped;
        };
        let Ok(host) = self.cx.hosts.get(&row.host) else {
            return VmState::Unknown;
        };
        let (mut events, _) = self.cx.bus.subscribe();
        let observation = match host.observe(id.0).await {
            Ok(observation) => observation,
            Err(_) => return VmState::Unknown,
        };
        let status = observation.status;
        crate::observed::record(&self.cx, observation).await;
        if status != Some(VmStatus::Running) {
            return VmState::Stopped;
        }
        let stop = async {
            while let Ok(event) = events.recv().await {
                match &event.change {
                    VmChange::Updated(vm) if vm.uuid == id && vm.status != VmStatus::Running => {
                        return VmState::Stopped;
                    }
                    VmChange::Deleted { uuid, .. } if *uuid == id => return VmState::Stopped,
                    _ => {}
                }
            }
            VmState::Unknown
        };
        tokio::time::timeout(STOP_GRACE, stop)
            .await
            .unwrap_or(VmState::Runs)
    }

    /// A console session ended: audited with how long it lasted and how it ended.
    pub async fn console_closed(
        &self,
        caller: &Principal,
        id: VmId,
        kind: ConsoleKind,
        lasted: Duration,
        how: &str,
    ) {
        let entry = Entry::by(caller, "vm.console.close")
            .target(id.0.to_string())
            .detail(format!(
                "{} console closed after {} s: {how}",
                kind.as_str(),
                lasted.as_secs()
            ));
        self.audit.record(entry).await;
    }
}

fn not_started() -> AppError {
    AppError::new(
        ErrorCode::VmStartFailed,
        format!(
            "The VM did not come up within {} s of being asked to.",
            START_TIMEOUT.as_secs()
        ),
    )
}

/// A console that libvirt could not open, in words (the chain goes to the log).
fn unreachable_console(kind: ConsoleKind, vm: &Vm, error: HostError) -> AppError {
    tracing::warn!(vm = %vm.uuid, kind = kind.as_str(), error = %chain(&error), "cannot open a console");
    match (kind, &error) {
        (_, HostError::InvalidState { .. }) => AppError::new(
            ErrorCode::VmNotRunning,
            format!("\"{}\" is not running.", vm.name),
        ),
        (_, HostError::NoDomain) => AppError::vm_not_found(),
        (_, HostError::Unavailable { .. }) => AppError::new(
            ErrorCode::HypervisorUnavailable,
            "The hypervisor (libvirt) is unreachable; try again shortly.",
        ),
        (ConsoleKind::Vnc, _) => AppError::new(
            ErrorCode::VncUnavailable,
            format!(
                "The display of \"{}\" cannot be opened; the server log says why.",
                vm.name
            ),
        ),
        (ConsoleKind::Serial, _) => AppError::new(
            ErrorCode::SerialUnavailable,
            format!(
                "The serial console of \"{}\" cannot be opened; the server log says why.",
                vm.name
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(status: VmStatus) -> Vm {
        serde_json::from_value(serde_json::json!({
            "uuid": "6f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f", "name": "web", "owner": null,
            "status": status, "cpu": 1, "memory": 64, "disk_size": 1, "os_type": "linux",
            "boot_order": "hd", "installation_status": "Installed", "current_media": null,
            "role": null, "host": "local", "created_at": "2026-11-30T00:00:00Z",
            "updated_at": "2026-11-30T00:00:00Z", "generation": 1
        }))
        .unwrap()
    }

    #[test]
    fn a_console_opens_on_a_running_vm_or_one_autostart_may_bring_up() {
        assert_eq!(
            readiness(&vm(VmStatus::Running), false),
            Ok(Readiness::Ready)
        );
        assert_eq!(
            readiness(&vm(VmStatus::Stopped), true),
            Ok(Readiness::Start)
        );
        assert_eq!(
            readiness(&vm(VmStatus::Crashed), true),
            Ok(Readiness::Start)
        );
        assert_eq!(
            readiness(&vm(VmStatus::Paused), true),
            Ok(Readiness::Resume)
        );
        for status in [VmStatus::Stopped, VmStatus::Paused] {
            let refusal = readiness(&vm(status), false).unwrap_err();
            assert_eq!(refusal.code, ErrorCode::VmNotRunning);
            assert!(refusal.message.contains("AUTOSTART"), "{}", refusal.message);
        }
        for status in [
            VmStatus::ShuttingDown,
            VmStatus::Creating,
            VmStatus::Deleting,
            VmStatus::Missing,
            VmStatus::Unknown,
        ] {
            assert_eq!(
                readiness(&vm(status), true).unwrap_err().code,
                ErrorCode::VmNotRunning,
                "{status:?}"
            );
        }
    }

    #[test]
    fn a_ticket_lets_one_connection_to_its_vm_in_once() {
        let tickets = Tickets::default();
        let holder = Principal {
            username: "alice".into(),
            role: app::auth::Role::User,
            credential: "x".into(),
            by_session: true,
            expires_at: None,
            address: None,
            language: None,
        };
        let (mine, other) = (VmId(uuid::Uuid::new_v4()), VmId(uuid::Uuid::new_v4()));
        let issued = tickets.issue(holder.clone(), mine);
        assert_eq!(tickets.redeem(&issued.ticket, mine), Some(holder.clone()));
        assert_eq!(tickets.redeem(&issued.ticket, mine), None, "used up");
        let issued = tickets.issue(holder, mine);
        assert_eq!(tickets.redeem(&issued.ticket, other), None, "another VM");
        assert_eq!(tickets.redeem(&issued.ticket, mine), None, "tried once");
        assert_eq!(tickets.redeem("made-up", mine), None);
    }
}
