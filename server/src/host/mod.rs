//! The hypervisor, through libvirt. Every libvirt call blocks, so each runs on tokio's blocking
//! pool (`Host::call`); nothing here holds a lock across an `.await`.
//!
//! A `Host` is one libvirt connection, named by a [`HostKey`]; [`Hosts`] holds every managed
//! host by key. Nothing outside this module assumes there is only one (SPEC §13).

pub mod definition;
pub mod definition_edit;
pub mod definitions;
pub mod disk;
pub mod domain_type;
pub mod domain_xml;
pub mod events;
mod hosts;
pub mod library;
pub mod live;
pub mod migrate;
pub mod node;
pub mod probe;
pub mod serial;
pub mod settings;
pub mod snapshots;
pub mod stats;
pub mod vnc;

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use app::types::{VmAction, VmStatus};
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::enumutil::Enum;
use virt::error::ErrorNumber;
use virt::sys;

use crate::config::DomainTypeSetting;
use domain_xml::{DomainSpec, DomainType};
use events::{HostSignal, Registration};
pub use hosts::{HostKey, Hosts};
pub use live::{DomainSummary, LiveState, LiveView, Observation, Snapshot};
pub use vnc::VncEndpoint;

/// A failed hypervisor call. The messages say what Limen tried; libvirt's own words are the
/// `source` (for the log). What a user may read of it is [`HostError::user_reason`].
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("the hypervisor at {uri} is unreachable")]
    Unavailable {
        uri: String,
        #[source]
        source: virt::error::Error,
    },
    /// A watched host that could not be reached at its last attempt (its monitor retries).
    #[error("the host {host} is unreachable: {reason}")]
    Unreachable { host: HostKey, reason: &'static str },
    #[error("no such domain")]
    NoDomain,
    #[error("no such snapshot")]
    NoSnapshot,
    #[error("the domain has no CD-ROM drive")]
    NoCdromDrive,
    #[error("libvirt refused to {what}: the domain is not in a state that allows it")]
    InvalidState {
        what: &'static str,
        #[source]
        source: virt::error::Error,
    },
    #[error("libvirt could not {what}")]
    Libvirt {
        what: &'static str,
        #[source]
        source: virt::error::Error,
    },
    #[error("no host is configured under the key {0:?}")]
    UnknownHost(String),
    #[error("libvirt's events are not followed in this process")]
    NotWatched,
    #[error("a hypervisor task was cancelled")]
    Join(#[from] tokio::task::JoinError),
    /// A domain definition Limen cannot read or change.
    #[error("the domain's definition: {0}")]
    Definition(String),
}

impl From<definition_edit::EditError> for HostError {
    fn from(error: definition_edit::EditError) -> Self {
        match error {
            definition_edit::EditError::NoCdromDrive => HostError::NoCdromDrive,
            other => HostError::Definition(other.to_string()),
        }
    }
}

impl HostError {
    /// Classifies a libvirt error from the call `what`.
    pub(crate) fn from_virt(what: &'static str, source: virt::error::Error) -> Self {
        match source.code() {
            Enum::Known(ErrorNumber::NoDomain) => HostError::NoDomain,
            Enum::Known(ErrorNumber::OperationInvalid) => HostError::InvalidState { what, source },
            _ => HostError::Libvirt { what, source },
        }
    }

    /// What Limen was doing when libvirt failed ("start the VM"), if libvirt failed.
    pub fn attempted(&self) -> Option<&'static str> {
        match self {
            HostError::InvalidState { what, .. } | HostError::Libvirt { what, .. } => Some(what),
            _ => None,
        }
    }

    /// libvirt's reason, in words of our own, where it is the user's business and something
    /// they can act on (a start that failed because a disk image is missing). `None` for
    /// everything else: libvirt's text names host paths and daemon internals, so it goes to the
    /// log only.
    pub fn user_reason(&self) -> Option<&'static str> {
        match self {
            HostError::Libvirt { source, .. } => reason_in_words(source.message()),
            _ => None,
        }
    }
}

/// The `<uuid>` of the capabilities' `<host>` element.
fn capabilities_host_uuid(capabilities: &str) -> Option<Uuid> {
    let host = &capabilities[capabilities.find("<host>")?..];
    let host = &host[..host.find("</host>")?];
    let start = host.find("<uuid>")? + "<uuid>".len();
    let end = start + host[start..].find("</uuid>")?;
    Uuid::parse_str(host[start..end].trim()).ok()
}

/// Why a connection could not be opened, in words an admin can act on (libvirt's own message
/// names sockets and daemon internals; it goes to the log).
fn unreachable_in_words(message: &str) -> &'static str {
    let message = message.to_ascii_lowercase();
    let has = |part: &str| message.contains(part);
    if has("host key verification") || has("authentication") || has("permission denied (publickey")
    {
        "SSH or TLS authentication to it failed"
    } else if has("permission denied") {
        "Limen is not allowed to use its libvirt socket"
    } else if has("no such file or directory") {
        "libvirt does not answer there (is libvirtd running?)"
    } else if has("connection refused") {
        "it refused the connection (is libvirtd or SSH running there?)"
    } else if has("name or service not known")
        || has("could not resolve")
        || has("temporary failure in name resolution")
    {
        "its host name does not resolve"
    } else if has("timed out") || has("no route to host") || has("network is unreachable") {
        "it does not answer on the network"
    } else {
        "libvirt could not connect to it"
    }
}

/// Known libvirt/QEMU failures a user can act on, recognised by libvirt's message.
fn reason_in_words(message: &str) -> Option<&'static str> {
    let message = message.to_ascii_lowercase();
    let has = |part: &str| message.contains(part);
    if has("no such file or directory") && (has("storage") || has("cannot access") || has("disk")) {
        Some("a disk image or ISO file it uses is missing")
    } else if has("permission denied") {
        Some("QEMU is not allowed to read one of its disk or ISO files")
    } else if has("cannot allocate memory") || has("out of memory") || has("insufficient memory") {
        Some("the host does not have enough free memory for it")
    } else if has("internal snapshot") && (has("raw") || has("does not support") || has("format")) {
        Some("its disk is not a qcow2 image, and only qcow2 disks hold snapshots")
    } else if has("/dev/kvm") || has("kvm kernel module") || has("kvm is not available") {
        Some("hardware virtualisation (KVM) is not usable on this host")
    } else {
        None
    }
}

/// What `Host::capacity` reports: the machine's CPUs and memory, and the memory free now.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    pub cpus: u32,
    pub memory_mib: u64,
    /// `None`: libvirt cannot say (some drivers).
    pub free_memory_mib: Option<u64>,
}

/// What `Host::node_limits` reports about the machine.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub cpus: u32,
    pub memory_mib: u64,
}

/// An open connection with Limen's event callbacks registered on it (when watched).
struct Connected {
    conn: Connect,
    /// `None` if not watched, or registration failed: calls still work, the view is then
    /// resynced on demand.
    _events: Option<Registration>,
}

pub struct Host {
    key: HostKey,
    uri: String,
    domain_type_setting: DomainTypeSetting,
    /// The open connection, reopened on the next call after it dies.
    conn: Mutex<Option<Connected>>,
    /// Where the event callbacks send, once [`Host::watch`] was called (only a serving process
    /// watches: a command-line run never registers callbacks).
    signals: Mutex<Option<UnboundedSender<HostSignal>>>,
    live: LiveView,
    /// Why the last attempt to connect failed, in words; `None` once connected.
    unreachable: Mutex<Option<&'static str>>,
    /// Cancelled when the host is removed: its background work stops.
    retired: CancellationToken,
}

/// libvirt's domain state in Limen's words.
pub fn status_of(state: DomainState) -> VmStatus {
    match state {
        DomainState::Running | DomainState::Blocked => VmStatus::Running,
        DomainState::Paused | DomainState::PMSuspended => VmStatus::Paused,
        DomainState::Shutdown => VmStatus::ShuttingDown,
        DomainState::Shutoff => VmStatus::Stopped,
        DomainState::Crashed => VmStatus::Crashed,
        DomainState::NoState => VmStatus::Unknown,
    }
}

/// Not every libvirt driver says "invalid operation" when an action does not fit the domain's
/// state (the test driver says "internal error" when asked to pause a domain a concurrent stop
/// just stopped): when the domain's state, read right after the refusal, does not allow the
/// action, that was the reason, whatever the code.
fn refused_for_state(domain: &Domain, action: VmAction, error: HostError) -> HostError {
    let HostError::Libvirt { what, source } = error else {
        return error;
    };
    match read_state(domain) {
        Ok(status) if !action.allowed_in(status) => HostError::InvalidState { what, source },
        _ => HostError::Libvirt { what, source },
    }
}

fn read_state(domain: &Domain) -> Result<VmStatus, HostError> {
    let (state, _reason) = domain
        .state()
        .map_err(|e| HostError::from_virt("read the domain state", e))?;
    Ok(match state {
        Enum::Known(state) => status_of(state),
        Enum::Unknown(_) => VmStatus::Unknown,
    })
}

impl Host {
    /// A host reached at `uri`. Nothing is opened until the first call, and nothing runs in
    /// the background until [`Host::watch`].
    pub fn new(
        key: HostKey,
        uri: impl Into<String>,
        domain_type_setting: DomainTypeSetting,
    ) -> Arc<Self> {
        // libvirt prints every error to stderr by default; ours are returned and logged instead.
        virt::error::clear_error_callback();
        Arc::new(Self {
            live: LiveView::new(key.clone()),
            key,
            uri: uri.into(),
            domain_type_setting,
            conn: Mutex::new(None),
            signals: Mutex::new(None),
            unreachable: Mutex::new(None),
            retired: CancellationToken::new(),
        })
    }

    /// The libvirt URI this host is reached at.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Why the host could not be reached at the last attempt, in words a user can act on;
    /// `None` if it could (or no attempt was made yet).
    pub fn unreachable(&self) -> Option<&'static str> {
        *self.unreachable.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_unreachable(&self, reason: Option<&'static str>) {
        *self.unreachable.lock().unwrap_or_else(|p| p.into_inner()) = reason;
    }

    /// Cancelled once the host is removed from Limen.
    pub fn retired(&self) -> &CancellationToken {
        &self.retired
    }

    /// Stops the host's background work and closes its connection (it was removed). The
    /// connection closes on the blocking pool: a connection attempt in flight (seconds, to a
    /// host that drops packets) must not hold up the caller.
    pub(super) fn retire(self: &Arc<Self>) {
        self.retired.cancel();
        *self.signals.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let host = Arc::clone(self);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || host.disconnect())),
            Err(_) => host.disconnect(),
        }
    }

    pub fn key(&self) -> &HostKey {
        &self.key
    }

    /// Starts delivering this host's signals (domain events, connection loss) to the returned
    /// receiver, which the monitor reads. libvirt's event loop must run before a connection
    /// opens for that connection to deliver events, so a connection already open (a recovery
    /// at start used it) is closed and the next call reopens it with callbacks.
    pub fn watch(&self) -> UnboundedReceiver<HostSignal> {
        events::start_event_loop();
        let (sender, receiver) = mpsc::unbounded_channel();
        *self.signals.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender);
        self.disconnect();
        receiver
    }

    /// Whether [`Host::watch`] was called: only a serving process follows libvirt's events.
    pub fn is_watched(&self) -> bool {
        self.signals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn signal(&self, signal: HostSignal) {
        if let Some(sender) = &*self.signals.lock().unwrap_or_else(|p| p.into_inner()) {
            // Nobody listening any more (shutting down) is fine.
            let _ = sender.send(signal);
        }
    }

    /// A live connection: the cached one, or a new one (with events registered) if there is
    /// none or it died. A new connection means events may have been missed: the view is marked
    /// out of step until the next full listing.
    fn connection(&self) -> Result<Connect, HostError> {
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(connected) = guard.as_ref() {
            if connected.conn.is_alive().unwrap_or(false) {
                return Ok(connected.conn.clone());
            }
        }
        // Deregister from the dead connection before opening the next.
        let replacing = guard.take().is_some();
        self.live.mark_unsynced();
        if replacing {
            // Its close callback may never fire now (deregistered above): the monitor must
            // still resynchronize — and retry, if the connection cannot be opened again.
            self.signal(HostSignal::ConnectionClosed {
                host: self.key.clone(),
            });
        }
        let conn = match Connect::open(Some(&self.uri)) {
            Ok(conn) => conn,
            Err(source) => {
                self.set_unreachable(Some(unreachable_in_words(source.message())));
                return Err(HostError::Unavailable {
                    uri: self.uri.clone(),
                    source,
                });
            }
        };
        self.set_unreachable(None);
        let signals = self
            .signals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let events = signals.and_then(|signals| {
            match Registration::register(&conn, signals, self.key.clone()) {
                Ok(registration) => Some(registration),
                Err(error) => {
                    tracing::warn!(host = %self.key, error = %error.message(), "libvirt events unavailable on this connection");
                    None
                }
            }
        });
        *guard = Some(Connected {
            conn: conn.clone(),
            _events: events,
        });
        Ok(conn)
    }

    /// Deregisters the event callbacks and closes the connection, on this thread, before the
    /// process exits (libvirt must not be torn down under a callback in flight).
    pub fn disconnect(&self) {
        let connected = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        drop(connected);
        self.live.mark_unsynced();
    }

    /// Lists every domain, replaces the live view and returns what changed.
    pub async fn resync(self: &Arc<Self>) -> Result<Vec<Observation>, HostError> {
        let host = Arc::clone(self);
        self.call(move |conn| host.live.resync(conn)).await
    }

    /// Asks libvirt for one domain's state now and records it in the view.
    pub async fn observe(self: &Arc<Self>, id: Uuid) -> Result<Observation, HostError> {
        let host = Arc::clone(self);
        self.call(move |conn| host.live.observe(conn, id)).await
    }

    pub fn live(&self) -> &LiveView {
        &self.live
    }

    /// A fresh value of this host's clock, for a write to a record of one of its VMs (the
    /// record's version, `vms.generation`): larger than any generation seen so far.
    pub fn fresh_generation(&self) -> i64 {
        i64::try_from(self.live.next_generation()).unwrap_or(i64::MAX)
    }

    /// A record of this host's was written at `generation` (the database may have raised it):
    /// the clock goes on after it.
    pub fn written_at(&self, generation: i64) {
        self.live
            .seed_generation(u64::try_from(generation).unwrap_or(0));
    }

    /// Runs a blocking libvirt call on the blocking pool.
    pub async fn call<T, F>(self: &Arc<Self>, f: F) -> Result<T, HostError>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, HostError> + Send + 'static,
    {
        let host = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = host.connection()?;
            f(&conn)
        })
        .await?
    }

    pub async fn ping(self: &Arc<Self>) -> Result<(), HostError> {
        self.call(|conn| {
            conn.hostname()
                .map(drop)
                .map_err(|e| HostError::from_virt("answer", e))
        })
        .await
    }

    /// Which domain type setting this host was made with (a host added later gets the same).
    pub fn domain_type_setting(&self) -> DomainTypeSetting {
        self.domain_type_setting
    }

    /// The machine's CPUs and memory, and how much memory is free now (placement's measure).
    pub async fn capacity(self: &Arc<Self>) -> Result<Capacity, HostError> {
        self.call(|conn| {
            let info = conn
                .node_info()
                .map_err(|e| HostError::from_virt("describe the host", e))?;
            Ok(Capacity {
                cpus: info.cpus,
                memory_mib: info.memory / 1024,
                free_memory_mib: conn.free_memory().ok().map(|bytes| bytes >> 20),
            })
        })
        .await
    }

    /// libvirt's UUID of the machine (its capabilities' `<host><uuid>`), if it says: two URIs
    /// of one daemon give the same.
    pub async fn libvirt_uuid(self: &Arc<Self>) -> Result<Option<Uuid>, HostError> {
        self.call(|conn| {
            let capabilities = conn
                .capabilities()
                .map_err(|e| HostError::from_virt("describe its capabilities", e))?;
            Ok(capabilities_host_uuid(&capabilities))
        })
        .await
    }

    /// Which domain type new VMs get on this connection.
    pub async fn domain_type(self: &Arc<Self>) -> Result<DomainType, HostError> {
        let setting = self.domain_type_setting;
        self.call(move |conn| {
            let driver = conn
                .driver_type()
                .map_err(|e| HostError::from_virt("name its driver", e))?;
            Ok(domain_type::resolve(
                setting,
                &driver,
                &domain_type::HostCpu::probe(),
            ))
        })
        .await
    }

    pub async fn node_limits(self: &Arc<Self>) -> Result<NodeLimits, HostError> {
        self.call(|conn| {
            let info = conn
                .node_info()
                .map_err(|e| HostError::from_virt("describe the host", e))?;
            Ok(NodeLimits {
                cpus: info.cpus,
                memory_mib: info.memory / 1024,
            })
        })
        .await
    }

    /// Every domain with its state, from the live view; if the view is out of step (no
    /// connection yet, or it was lost), from a full listing, whose news goes to the monitor.
    pub async fn domains(self: &Arc<Self>) -> Result<Snapshot, HostError> {
        if let Some(domains) = self.live.snapshot() {
            return Ok(domains);
        }
        // While a watched host is unreachable its monitor keeps trying: a listing must not wait
        // on a connection attempt (over SSH, seconds) that the monitor's retry will make.
        if let Some(reason) = self.unreachable().filter(|_| self.is_watched()) {
            return Err(HostError::Unreachable {
                host: self.key.clone(),
                reason,
            });
        }
        let changes = self.resync().await?;
        if !changes.is_empty() {
            self.signal(HostSignal::Resynced {
                host: self.key.clone(),
            });
        }
        Ok(self.live.snapshot().unwrap_or_default())
    }

    /// One domain's state from the live view (libvirt is asked if the view is out of step).
    pub async fn domain_state(self: &Arc<Self>, id: Uuid) -> Result<LiveState, HostError> {
        if let Some(state) = self.live.state(id) {
            return Ok(state);
        }
        if let Some(reason) = self.unreachable().filter(|_| self.is_watched()) {
            return Err(HostError::Unreachable {
                host: self.key.clone(),
                reason,
            });
        }
        Ok(self.observe(id).await?.live_state())
    }

    /// The domain's current definition (XML); `HostError::NoDomain` if there is none.
    pub async fn domain_xml(self: &Arc<Self>, id: Uuid) -> Result<String, HostError> {
        self.call(move |conn| {
            lookup(conn, id)?
                .xml_desc(0)
                .map_err(|e| HostError::from_virt("read the domain definition", e))
        })
        .await
    }

    pub async fn domain_name_exists(self: &Arc<Self>, name: String) -> Result<bool, HostError> {
        self.call(move |conn| match conn.lookup_domain_by_name(&name) {
            Ok(_) => Ok(true),
            Err(e) => match HostError::from_virt("look up a domain", e) {
                HostError::NoDomain => Ok(false),
                other => Err(other),
            },
        })
        .await
    }

    /// A connection to the VNC server of a running domain: a socket from libvirt where the
    /// driver gives one, else (a local driver only) the address in its live definition, a
    /// listen-all address reached on the loopback. `Ok(None)`: the domain has no VNC display.
    pub async fn open_vnc(self: &Arc<Self>, id: Uuid) -> Result<Option<VncEndpoint>, HostError> {
        use std::os::fd::FromRawFd;
        let local = is_local_uri(&self.uri);
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let xml = domain
                .xml_desc(0)
                .map_err(|e| HostError::from_virt("read the domain definition", e))?;
            let Some(vnc) = definition::parse(&xml).ok().and_then(|d| d.vnc) else {
                return Ok(None);
            };
            match domain.open_graphics_fd(vnc.index, 0) {
                Ok(fd) => {
                    let fd = std::os::fd::RawFd::try_from(fd).map_err(|_| HostError::Libvirt {
                        what: "open the VM's VNC display",
                        source: virt::error::Error::last_error(),
                    })?;
                    // SAFETY: libvirt hands us a new socket descriptor, ours to own and close.
                    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
                    Ok(Some(VncEndpoint::Socket(fd)))
                }
                // A driver without graphics sockets (the test driver): its address, if it is
                // on this machine.
                Err(error)
                    if local
                        && matches!(
                            error.code(),
                            Enum::Known(ErrorNumber::NoSupport | ErrorNumber::InvalidArg)
                        ) =>
                {
                    let Some(port) = vnc.port else {
                        return Ok(None);
                    };
                    let ip = vnc
                        .address
                        .and_then(|address| address.parse::<std::net::IpAddr>().ok())
                        .filter(|ip| !ip.is_unspecified())
                        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
                    Ok(Some(VncEndpoint::Address((ip, port).into())))
                }
                Err(error) => Err(HostError::from_virt("open the VM's VNC display", error)),
            }
        })
        .await
    }

    /// The serial console of a running domain (see `serial`). Needs the host watched (its
    /// event loop running), as a serving process has it.
    pub async fn open_serial(
        self: &Arc<Self>,
        id: Uuid,
    ) -> Result<serial::SerialConsole, HostError> {
        // Without the event loop the stream's callback would never run.
        if !self.is_watched() {
            return Err(HostError::NotWatched);
        }
        self.call(move |conn| serial::SerialConsole::open(conn, &lookup(conn, id)?))
            .await
    }

    /// Defines (persistently) the domain described by `spec`.
    pub async fn define(self: &Arc<Self>, spec: DomainSpec) -> Result<(), HostError> {
        let xml = spec.to_xml();
        self.call(move |conn| {
            conn.define_domain_xml(&xml)
                .map(drop)
                .map_err(|e| HostError::from_virt("define the VM", e))
        })
        .await
    }

    /// Carries out `action` and returns what libvirt reports afterwards.
    pub async fn act(
        self: &Arc<Self>,
        id: Uuid,
        action: VmAction,
    ) -> Result<Observation, HostError> {
        let host = Arc::clone(self);
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let result = match action {
                VmAction::Start => domain.create().map(drop),
                VmAction::Shutdown => domain.shutdown().map(drop),
                VmAction::Stop => domain.destroy().map(drop),
                VmAction::Reboot => domain.reboot(0).map(drop),
                VmAction::Reset => domain.reset().map(drop),
                VmAction::Pause => domain.suspend().map(drop),
                VmAction::Resume => domain.resume().map(drop),
            };
            result.map_err(|e| {
                refused_for_state(
                    &domain,
                    action,
                    HostError::from_virt(action_verb(action), e),
                )
            })?;
            host.live.observe(conn, id)
        })
        .await
    }

    /// Starts the domain unless it already runs.
    pub async fn start_if_stopped(self: &Arc<Self>, id: Uuid) -> Result<(), HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            if domain
                .is_active()
                .map_err(|e| HostError::from_virt("check the domain", e))?
            {
                return Ok(());
            }
            domain
                .create()
                .map(drop)
                .map_err(|e| HostError::from_virt("start the VM", e))
        })
        .await
    }

    /// Hard power-off; a domain that is not running, or gone, is fine.
    pub async fn power_off(self: &Arc<Self>, id: Uuid) -> Result<(), HostError> {
        self.call(move |conn| match lookup_if_any(conn, id)? {
            Some(domain) => power_off_domain(&domain),
            None => Ok(()),
        })
        .await
    }

    /// Powers off (if running) and undefines the domain with its NVRAM, snapshot and checkpoint
    /// metadata. A domain that is already gone is success.
    pub async fn destroy_and_undefine(self: &Arc<Self>, id: Uuid) -> Result<(), HostError> {
        self.call(move |conn| {
            let Some(domain) = lookup_if_any(conn, id)? else {
                return Ok(());
            };
            power_off_domain(&domain)?;
            let metadata =
                sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
            let all = metadata
                | sys::VIR_DOMAIN_UNDEFINE_NVRAM
                | sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
            // Drivers without NVRAM or checkpoints (the test driver) refuse those flags.
            let result = domain.undefine_flags(all).or_else(|e| match e.code() {
                Enum::Known(ErrorNumber::InvalidArg | ErrorNumber::NoSupport) => {
                    domain.undefine_flags(metadata)
                }
                _ => Err(e),
            });
            match result {
                Ok(()) => Ok(()),
                Err(e) => match HostError::from_virt("undefine the VM", e) {
                    HostError::NoDomain => Ok(()),
                    other => Err(other),
                },
            }
        })
        .await
    }
}

/// Whether a libvirt URI names this machine (no host part): `qemu:///system`,
/// `qemu+unix:///system?socket=…`, `test:///default` — not `qemu+ssh://host/system`.
fn is_local_uri(uri: &str) -> bool {
    uri.split_once("://")
        .is_some_and(|(_, rest)| rest.starts_with('/'))
}

/// Hard power-off of a domain that may or may not be running.
fn power_off_domain(domain: &Domain) -> Result<(), HostError> {
    if !domain.is_active().unwrap_or(false) {
        return Ok(());
    }
    match domain.destroy() {
        Ok(()) => Ok(()),
        Err(e) => match HostError::from_virt("power the VM off", e) {
            // Stopped (or vanished) between the check and the call: fine.
            HostError::NoDomain | HostError::InvalidState { .. } => Ok(()),
            other => Err(other),
        },
    }
}

pub(crate) fn lookup(conn: &Connect, id: Uuid) -> Result<Domain, HostError> {
    conn.lookup_domain_by_uuid(id)
        .map_err(|e| HostError::from_virt("look up the domain", e))
}

/// The domain, or `None` when it is gone (for the undoing calls, to which gone is done).
pub(crate) fn lookup_if_any(conn: &Connect, id: Uuid) -> Result<Option<Domain>, HostError> {
    match lookup(conn, id) {
        Ok(domain) => Ok(Some(domain)),
        Err(HostError::NoDomain) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What Limen attempted, as the error says it ("libvirt could not start the VM").
fn action_verb(action: VmAction) -> &'static str {
    match action {
        VmAction::Start => "start the VM",
        VmAction::Shutdown => "ask the VM to shut down",
        VmAction::Stop => "power the VM off",
        VmAction::Reboot => "ask the VM to reboot",
        VmAction::Reset => "reset the VM",
        VmAction::Pause => "pause the VM",
        VmAction::Resume => "resume the VM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_uris_are_told_from_remote_ones() {
        for local in [
            "qemu:///system",
            "qemu+unix:///system?socket=/x",
            "test:///default",
        ] {
            assert!(is_local_uri(local), "{local}");
        }
        for remote in [
            "qemu+ssh://root@host/system",
            "qemu+tls://host/system",
            "garbage",
        ] {
            assert!(!is_local_uri(remote), "{remote}");
        }
    }

    #[test]
    fn libvirt_reasons_become_words_without_paths() {
        let missing = "Cannot access storage file '/var/lib/limen/disks/x.qcow2' (as uid:64055, gid:64055): No such file or directory";
        assert_eq!(
            reason_in_words(missing),
            Some("a disk image or ISO file it uses is missing")
        );
        assert!(
            reason_in_words("internal error: process exited while connecting to monitor").is_none()
        );
        for reason in [
            "could not open disk image /x: Permission denied",
            "cannot allocate memory",
            "Could not access KVM kernel module: No such file or directory",
        ] {
            let words = reason_in_words(reason).unwrap();
            assert!(!words.contains('/'), "{words}");
        }
    }
}
