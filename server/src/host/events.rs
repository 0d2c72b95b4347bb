//! libvirt's event loop and the callbacks Limen registers on a connection, behind a small safe
//! interface. The `virt` crate has no wrapper for domain events, so this is the one place that
//! calls `virt::sys` for them.
//!
//! A callback does no work of its own: it turns what libvirt reports into a [`HostSignal`] on a
//! channel. Where the event names the state the domain is now in (started, suspended, resumed,
//! stopped, crashed), the signal carries it, so no call back to libvirt is needed (a state query
//! during a destroy waits for libvirtd's job, ~10 ms); for the rest (defined, undefined,
//! reboot) whoever reads the channel asks libvirt.

use std::os::raw::{c_int, c_void};
use std::ptr;
use std::sync::Once;

use app::types::VmStatus;
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;
use virt::connect::Connect;
use virt::sys;

use super::HostKey;

/// What the event loop tells the rest of Limen, about one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSignal {
    /// Something happened to this domain (lifecycle change, reboot, defined, undefined);
    /// `reported`: the state the event itself says the domain is now in, if it says one.
    DomainChanged {
        host: HostKey,
        uuid: Uuid,
        reported: Option<VmStatus>,
    },
    /// The connection closed (libvirtd stopped, keepalive timed out): reconnect and resync.
    /// The domain's definition or its media may have changed (defined again, started, stopped,
    /// a disc inserted or ejected): its boot order and media are read again.
    SettingsChanged {
        host: HostKey,
        uuid: Uuid,
    },
    ConnectionClosed {
        host: HostKey,
    },
    /// A full listing replaced the live view and found changes the database has not seen.
    Resynced {
        host: HostKey,
    },
}

/// What a callback holds: where to send, and which host it speaks for.
struct Sink {
    signals: UnboundedSender<HostSignal>,
    host: HostKey,
}

static EVENT_LOOP: Once = Once::new();

/// Registers libvirt's default event loop and runs it on a thread of its own. It must happen
/// before the first connection is opened, or that connection never delivers events; calling it
/// again does nothing.
pub fn start_event_loop() {
    EVENT_LOOP.call_once(|| {
        if let Err(error) = virt::event::event_register_default_impl() {
            tracing::error!(error = %error.message(), "libvirt's event loop could not be registered: live updates are off");
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("libvirt-events".into())
            .spawn(|| loop {
                if let Err(error) = virt::event::event_run_default_impl() {
                    tracing::warn!(error = %error.message(), "libvirt event loop iteration failed");
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "the libvirt event thread could not start: live updates are off");
        }
    });
}

/// The callbacks registered on one connection; deregistered when dropped.
pub struct Registration {
    conn: Connect,
    domain_callbacks: Vec<c_int>,
    close_callback: bool,
}

impl Registration {
    /// Registers lifecycle, reboot and close callbacks on `conn` (of `host`), sending to
    /// `signals`, and turns keepalive on so a silent daemon is noticed within ~15 s.
    pub fn register(
        conn: &Connect,
        signals: UnboundedSender<HostSignal>,
        host: HostKey,
    ) -> Result<Self, virt::error::Error> {
        let sink = Sink { signals, host };
        let mut registration = Registration {
            conn: conn.clone(),
            domain_callbacks: Vec::new(),
            close_callback: false,
        };
        let lifecycle: unsafe extern "C" fn(
            sys::virConnectPtr,
            sys::virDomainPtr,
            c_int,
            c_int,
            *mut c_void,
        ) -> c_int = on_lifecycle;
        // SAFETY: libvirt calls a callback registered for an event id with that id's signature
        // (VIR_DOMAIN_EVENT_CALLBACK in C does the same cast).
        let lifecycle: unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void) =
            unsafe { std::mem::transmute(lifecycle) };
        let reboot: unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void) =
            on_reboot;
        let tray: unsafe extern "C" fn(
            sys::virConnectPtr,
            sys::virDomainPtr,
            *const std::os::raw::c_char,
            c_int,
            *mut c_void,
        ) = on_tray_change;
        // SAFETY: as for the lifecycle callback: libvirt calls it with the TRAY_CHANGE
        // signature it was registered for.
        let tray: unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void) =
            unsafe { std::mem::transmute(tray) };
        for (event, callback) in [
            (sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE, lifecycle),
            (sys::VIR_DOMAIN_EVENT_ID_REBOOT, reboot),
            (sys::VIR_DOMAIN_EVENT_ID_TRAY_CHANGE, tray),
        ] {
            let opaque = boxed_sink(&sink);
            // SAFETY: the connection is valid for the call; `opaque` is owned by libvirt from
            // here and released through `free_sender` (or below if registration failed).
            let id = unsafe {
                sys::virConnectDomainEventRegisterAny(
                    conn.as_ptr(),
                    ptr::null_mut(),
                    event as c_int,
                    Some(callback),
                    opaque,
                    Some(free_sender),
                )
            };
            if id < 0 {
                // SAFETY: libvirt did not take ownership of `opaque`.
                unsafe { free_sender(opaque) };
                return Err(virt::error::Error::last_error());
            }
            registration.domain_callbacks.push(id);
        }
        let opaque = boxed_sink(&sink);
        // SAFETY: as above.
        let registered = unsafe {
            sys::virConnectRegisterCloseCallback(
                conn.as_ptr(),
                Some(on_close),
                opaque,
                Some(free_sender),
            )
        };
        if registered < 0 {
            // SAFETY: libvirt did not take ownership of `opaque`.
            unsafe { free_sender(opaque) };
            return Err(virt::error::Error::last_error());
        }
        registration.close_callback = true;
        // Drivers without a daemon (test:///) have no keepalive; that is fine.
        let _ = conn.set_keep_alive(5, 3);
        Ok(registration)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Failures are expected on a dead connection; libvirt frees the callbacks with it.
        for &id in &self.domain_callbacks {
            // SAFETY: the connection is kept alive by `self.conn`.
            unsafe { sys::virConnectDomainEventDeregisterAny(self.conn.as_ptr(), id) };
        }
        if self.close_callback {
            // SAFETY: as above; `on_close` is the callback registered.
            unsafe { sys::virConnectUnregisterCloseCallback(self.conn.as_ptr(), Some(on_close)) };
        }
    }
}

fn boxed_sink(sink: &Sink) -> *mut c_void {
    let copy = Sink {
        signals: sink.signals.clone(),
        host: sink.host.clone(),
    };
    Box::into_raw(Box::new(copy)).cast()
}

unsafe extern "C" fn free_sender(opaque: *mut c_void) {
    // SAFETY: every opaque pointer handed to libvirt comes from `boxed_sink`.
    drop(unsafe { Box::from_raw(opaque.cast::<Sink>()) });
}

/// Sends the signal `make` builds for the host behind `opaque`. A closed channel means nobody
/// listens any more, which is not an error here.
unsafe fn send(opaque: *mut c_void, make: impl FnOnce(HostKey) -> HostSignal) {
    // SAFETY: `opaque` is a live `Sink` box for as long as the callback is registered.
    let sink = unsafe { &*opaque.cast::<Sink>() };
    let _ = sink.signals.send(make(sink.host.clone()));
}

unsafe fn domain_uuid(domain: sys::virDomainPtr) -> Option<Uuid> {
    let mut bytes = [0u8; 16];
    // SAFETY: libvirt passes a valid domain to the callback; the buffer is VIR_UUID_BUFLEN.
    let read = unsafe { sys::virDomainGetUUID(domain, bytes.as_mut_ptr()) };
    (read == 0).then(|| Uuid::from_bytes(bytes))
}

/// The state a lifecycle event leaves the domain in, where the event alone says so. An undefine
/// is not one (a running domain undefined keeps running, as a transient one).
pub fn reported_state(event: c_int) -> Option<VmStatus> {
    let event = u32::try_from(event).ok()?;
    Some(match event {
        sys::VIR_DOMAIN_EVENT_STARTED | sys::VIR_DOMAIN_EVENT_RESUMED => VmStatus::Running,
        sys::VIR_DOMAIN_EVENT_SUSPENDED | sys::VIR_DOMAIN_EVENT_PMSUSPENDED => VmStatus::Paused,
        sys::VIR_DOMAIN_EVENT_STOPPED => VmStatus::Stopped,
        sys::VIR_DOMAIN_EVENT_CRASHED => VmStatus::Crashed,
        _ => return None,
    })
}

unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    domain: sys::virDomainPtr,
    event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) -> c_int {
    // "Shutdown finished" always comes just before "stopped", which says the state; asking
    // libvirt in between would wait for its job and delay the "stopped" behind it.
    if u32::try_from(event) == Ok(sys::VIR_DOMAIN_EVENT_SHUTDOWN) {
        return 0;
    }
    // SAFETY: called by libvirt with the pointers it was registered with.
    unsafe {
        if let Some(uuid) = domain_uuid(domain) {
            let reported = reported_state(event);
            send(opaque, |host| HostSignal::DomainChanged {
                host,
                uuid,
                reported,
            });
            if changes_settings(event) {
                send(opaque, |host| HostSignal::SettingsChanged { host, uuid });
            }
        }
    }
    0
}

/// Whether a lifecycle event may change what the record keeps of the definition: a new
/// definition, or a start or stop (a disc changed in the running domain only is gone at its
/// stop).
fn changes_settings(event: c_int) -> bool {
    u32::try_from(event).is_ok_and(|event| {
        matches!(
            event,
            sys::VIR_DOMAIN_EVENT_DEFINED
                | sys::VIR_DOMAIN_EVENT_STARTED
                | sys::VIR_DOMAIN_EVENT_STOPPED
        )
    })
}

unsafe extern "C" fn on_tray_change(
    _conn: sys::virConnectPtr,
    domain: sys::virDomainPtr,
    _device: *const std::os::raw::c_char,
    _reason: c_int,
    opaque: *mut c_void,
) {
    // SAFETY: as above.
    unsafe {
        if let Some(uuid) = domain_uuid(domain) {
            send(opaque, |host| HostSignal::SettingsChanged { host, uuid });
        }
    }
}

unsafe extern "C" fn on_reboot(
    _conn: sys::virConnectPtr,
    domain: sys::virDomainPtr,
    opaque: *mut c_void,
) {
    // SAFETY: as above.
    unsafe {
        if let Some(uuid) = domain_uuid(domain) {
            send(opaque, |host| HostSignal::DomainChanged {
                host,
                uuid,
                reported: None,
            });
        }
    }
}

unsafe extern "C" fn on_close(_conn: sys::virConnectPtr, _reason: c_int, opaque: *mut c_void) {
    // SAFETY: as above.
    unsafe { send(opaque, |host| HostSignal::ConnectionClosed { host }) };
}
