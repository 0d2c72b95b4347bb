//! A guest's serial console through libvirt's console stream (`virDomainOpenConsole`), as
//! `virsh console` does it: a non-blocking stream whose reads and writes all happen on libvirt's
//! event loop thread, in the stream's event callback. The `virt` crate's `Stream` callback API
//! keeps a pointer to a value that moves, so this file drives the stream through `virt::sys`.
//!
//! Bounded both ways: what the guest writes waits in a small channel for the reader (when it is
//! full, the callback stops asking for more until the reader catches up), and what is typed
//! waits in a small buffer for the stream (a writer waits while it is full).

use std::collections::VecDeque;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, Notify};
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::HostError;

/// Chunks of guest output waiting for the reader.
const INCOMING_CHUNKS: usize = 16;
/// Bytes read from the stream at once.
const READ_SIZE: usize = 16 * 1024;
/// Typed bytes waiting for the stream, at most.
const OUTGOING_BYTES: usize = 16 * 1024;

/// A `virStreamPtr` we hold one reference of: released (after the callback is removed and the
/// stream aborted) when the last holder drops it — always on a blocking thread, since these
/// libvirt calls may wait a moment.
struct StreamPtr {
    ptr: sys::virStreamPtr,
    watched: std::sync::atomic::AtomicBool,
}

// SAFETY: libvirt's stream functions are thread-safe; the reference is released once, in Drop.
unsafe impl Send for StreamPtr {}
unsafe impl Sync for StreamPtr {}

impl Drop for StreamPtr {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `open`, released once, here.
        unsafe {
            if self.watched.load(std::sync::atomic::Ordering::Acquire) {
                sys::virStreamEventRemoveCallback(self.ptr);
            }
            sys::virStreamAbort(self.ptr);
            sys::virStreamFree(self.ptr);
        }
    }
}

/// What the event callback and the async side share.
struct Shared {
    /// Guest output for the reader; `None` once the console ended.
    incoming: Mutex<Option<mpsc::Sender<Vec<u8>>>>,
    /// Output read from the stream while the channel was full, and whether reading is paused
    /// until the reader takes it.
    inbox: Mutex<Inbox>,
    /// Typed bytes not yet sent.
    outgoing: Mutex<VecDeque<u8>>,
    /// Signalled when `outgoing` has room again.
    room: Notify,
}

#[derive(Default)]
struct Inbox {
    stash: Option<Vec<u8>>,
    paused: bool,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// The events to ask libvirt for now.
    fn interest(&self) -> c_int {
        let mut events = sys::VIR_STREAM_EVENT_ERROR | sys::VIR_STREAM_EVENT_HANGUP;
        if !locked(&self.inbox).paused {
            events |= sys::VIR_STREAM_EVENT_READABLE;
        }
        if !locked(&self.outgoing).is_empty() {
            events |= sys::VIR_STREAM_EVENT_WRITABLE;
        }
        events as c_int
    }

    fn end(&self) {
        locked(&self.incoming).take();
        self.room.notify_waiters();
    }

    fn is_ended(&self) -> bool {
        locked(&self.incoming).is_none()
    }

    /// Reads what the stream has until it would block, the reader's channel is full, or the
    /// console ended. On the event loop thread.
    unsafe fn read_available(&self, stream: sys::virStreamPtr) {
        let Some(sender) = locked(&self.incoming).clone() else {
            return;
        };
        let mut buf = vec![0u8; READ_SIZE];
        loop {
            // SAFETY: `stream` is the live stream the callback was called for; `buf` is ours.
            let read = unsafe { sys::virStreamRecv(stream, buf.as_mut_ptr().cast(), buf.len()) };
            match read {
                -2 => return, // nothing more now
                n if n > 0 => {
                    let chunk = buf[..n as usize].to_vec();
                    match sender.try_send(chunk) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(chunk)) => {
                            let mut inbox = locked(&self.inbox);
                            inbox.stash = Some(chunk);
                            inbox.paused = true;
                            return;
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return self.end(),
                    }
                }
                // 0: the guest side closed; below 0: an error. Either way the console is over.
                _ => return self.end(),
            }
        }
    }

    /// Sends what was typed until the stream would block. On the event loop thread.
    unsafe fn write_pending(&self, stream: sys::virStreamPtr) {
        let mut outgoing = locked(&self.outgoing);
        while !outgoing.is_empty() {
            let chunk = outgoing.make_contiguous();
            // SAFETY: as in `read_available`.
            let sent = unsafe { sys::virStreamSend(stream, chunk.as_ptr().cast(), chunk.len()) };
            match sent {
                -2 => break,
                n if n > 0 => {
                    outgoing.drain(..n as usize);
                }
                _ => {
                    drop(outgoing);
                    return self.end();
                }
            }
        }
        drop(outgoing);
        self.room.notify_waiters();
    }
}

/// The callback's own reference to the shared state, freed by libvirt through `free_state`.
struct CallbackState(Arc<Shared>);

unsafe extern "C" fn on_event(stream: sys::virStreamPtr, events: c_int, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `CallbackState` registered with the callback, alive until libvirt
    // calls `free_state`.
    let state = unsafe { &*opaque.cast::<CallbackState>() };
    let shared = &state.0;
    let events = events as u32;
    // SAFETY: called by libvirt on its event loop with the stream the callback belongs to.
    unsafe {
        if events & sys::VIR_STREAM_EVENT_WRITABLE != 0 {
            shared.write_pending(stream);
        }
        if events & sys::VIR_STREAM_EVENT_READABLE != 0 {
            shared.read_available(stream);
        }
        if events & (sys::VIR_STREAM_EVENT_ERROR | sys::VIR_STREAM_EVENT_HANGUP) != 0 {
            // Read what is left, then the console is over.
            shared.read_available(stream);
            shared.end();
        }
        if !shared.is_ended() {
            sys::virStreamEventUpdateCallback(stream, shared.interest());
        }
    }
}

unsafe extern "C" fn free_state(opaque: *mut c_void) {
    // SAFETY: every opaque pointer handed to libvirt here comes from `Box::into_raw` below.
    drop(unsafe { Box::from_raw(opaque.cast::<CallbackState>()) });
}

/// An open serial console. Dropping it (both halves, once split) closes the stream.
pub struct SerialConsole {
    reader: SerialReader,
    writer: SerialWriter,
}

/// What the guest writes.
pub struct SerialReader {
    incoming: mpsc::Receiver<Vec<u8>>,
    link: Arc<Link>,
}

/// What is typed into the guest.
pub struct SerialWriter {
    link: Arc<Link>,
}

/// The stream and its state, shared by both halves.
struct Link {
    shared: Arc<Shared>,
    /// `None` only while being dropped.
    stream: Mutex<Option<Arc<StreamPtr>>>,
}

impl SerialConsole {
    /// Opens the first console of `domain` (taking it over from another client, such as a
    /// `virsh console` left open). Blocking: call on the blocking pool. libvirt's event loop
    /// must run, and `conn` must have been opened after it was registered.
    pub(super) fn open(conn: &Connect, domain: &Domain) -> Result<Self, HostError> {
        let failed = |what| HostError::from_virt(what, virt::error::Error::last_error());
        // SAFETY: the connection is valid for the call; a null result is an error.
        let stream = unsafe { sys::virStreamNew(conn.as_ptr(), sys::VIR_STREAM_NONBLOCK) };
        if stream.is_null() {
            return Err(failed("open a console stream"));
        }
        let stream = Arc::new(StreamPtr {
            ptr: stream,
            watched: false.into(),
        });
        // SAFETY: domain and stream are valid; a null device name means the first console.
        let opened = unsafe {
            sys::virDomainOpenConsole(
                domain.as_ptr(),
                ptr::null(),
                stream.ptr,
                sys::VIR_DOMAIN_CONSOLE_FORCE,
            )
        };
        if opened < 0 {
            return Err(failed("open the VM's serial console"));
        }
        let (sender, incoming) = mpsc::channel(INCOMING_CHUNKS);
        let shared = Arc::new(Shared {
            incoming: Mutex::new(Some(sender)),
            inbox: Mutex::default(),
            outgoing: Mutex::default(),
            room: Notify::new(),
        });
        let opaque = Box::into_raw(Box::new(CallbackState(Arc::clone(&shared)))).cast();
        // SAFETY: the stream is valid; `opaque` is owned by libvirt from here on (freed by
        // `free_state`), or freed below if registration failed.
        let added = unsafe {
            sys::virStreamEventAddCallback(
                stream.ptr,
                shared.interest(),
                Some(on_event),
                opaque,
                Some(free_state),
            )
        };
        if added < 0 {
            // SAFETY: libvirt did not take `opaque`.
            unsafe { free_state(opaque) };
            return Err(failed("watch the VM's serial console"));
        }
        stream
            .watched
            .store(true, std::sync::atomic::Ordering::Release);
        let link = Arc::new(Link {
            shared,
            stream: Mutex::new(Some(stream)),
        });
        Ok(Self {
            reader: SerialReader {
                incoming,
                link: Arc::clone(&link),
            },
            writer: SerialWriter { link },
        })
    }

    pub fn split(self) -> (SerialReader, SerialWriter) {
        (self.reader, self.writer)
    }

    /// The console as one byte stream (what the console proxy relays): two small tasks carry
    /// the bytes between it and the returned end, until either side closes.
    pub fn into_io(self) -> tokio::io::DuplexStream {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, far) = tokio::io::duplex(OUTGOING_BYTES);
        let (mut far_read, mut far_write) = tokio::io::split(far);
        let (mut reader, writer) = self.split();
        tokio::spawn(async move {
            while let Some(chunk) = reader.read().await {
                if far_write.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            let _ = far_write.shutdown().await;
        });
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(read) = far_read.read(&mut buf).await {
                if read == 0 || writer.write(&buf[..read]).await.is_err() {
                    break;
                }
            }
            // The other end went away: the console is over, and the reader stops waiting.
            writer.link.shared.end();
        });
        near
    }
}

impl Link {
    /// Tells libvirt which events we want now (more output, room to write).
    async fn update_interest(&self) {
        let Some(stream) = locked(&self.stream).clone() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        let _ = tokio::task::spawn_blocking(move || {
            if !shared.is_ended() {
                // SAFETY: the stream is alive while `stream` holds it.
                unsafe { sys::virStreamEventUpdateCallback(stream.ptr, shared.interest()) };
            }
            // `stream` may be the last reference: released here, on a blocking thread.
        })
        .await;
    }
}

impl SerialReader {
    /// What the guest wrote next; `None` once the console ended.
    pub async fn read(&mut self) -> Option<Vec<u8>> {
        if let Ok(chunk) = self.incoming.try_recv() {
            return Some(chunk);
        }
        // The channel is empty: output set aside while it was full comes next, and reading
        // goes on.
        let stashed = {
            let mut inbox = locked(&self.link.shared.inbox);
            inbox.paused = false;
            inbox.stash.take()
        };
        if let Some(chunk) = stashed {
            self.link.update_interest().await;
            return Some(chunk);
        }
        match self.incoming.recv().await {
            Some(chunk) => Some(chunk),
            None => locked(&self.link.shared.inbox).stash.take(),
        }
    }
}

impl SerialWriter {
    /// Types `bytes` into the guest; waits while earlier input is still on its way. `Err`:
    /// the console ended.
    pub async fn write(&self, mut bytes: &[u8]) -> Result<(), Ended> {
        let shared = &self.link.shared;
        while !bytes.is_empty() {
            let room = shared.room.notified();
            if shared.is_ended() {
                return Err(Ended);
            }
            let took = {
                let mut outgoing = locked(&shared.outgoing);
                let take = OUTGOING_BYTES
                    .saturating_sub(outgoing.len())
                    .min(bytes.len());
                outgoing.extend(&bytes[..take]);
                take
            };
            bytes = &bytes[took..];
            if took > 0 {
                self.link.update_interest().await;
            } else {
                room.await;
            }
        }
        Ok(())
    }
}

/// The console ended (the guest's side closed, or libvirt gave up on the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended;

impl Drop for Link {
    fn drop(&mut self) {
        self.shared.end();
        let Some(stream) = locked(&self.stream).take() else {
            return;
        };
        // Released off the async threads (see `StreamPtr`).
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(stream));
            }
            Err(_) => drop(stream),
        }
    }
}
