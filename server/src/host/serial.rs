//! A guest's serial console through libvirt's console stream (`virDomainOpenConsole`), as
//! `virsh console` does it: a non-blocking stream whose reads and writes happen on libvirt's
//! event loop thread, in the stream's event callback. The `virt` crate's `Stream` callback API
//! keeps a pointer to a value that moves, so this file drives the stream through `virt::sys`.
//!
//! Bounded both ways: the callback reads only as much as the inbox has room for (and stops
//! asking libvirt for more while it is full), and a writer waits while the outbox is full. While
//! reading is paused libvirt's own client keeps what the daemon sends (its buffer has no bound),
//! so a reader that takes nothing for `STALL_LIMIT` ends the console (`SerialConsole::into_io`).
//!
//! The events asked of libvirt are always computed and set under one lock (`Link::interest`),
//! by the callback and by the async side alike, so neither can undo the other's newer decision.
//! libvirt calls the callback without holding its stream lock, so that lock cannot deadlock
//! with ours.

use std::collections::VecDeque;
use std::os::raw::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::HostError;

/// Guest output waiting for the reader, at most.
const INBOX_BYTES: usize = 64 * 1024;
/// Typed bytes waiting for the stream, at most.
const OUTBOX_BYTES: usize = 16 * 1024;
/// How long the console waits for a reader that takes nothing before it ends.
pub const STALL_LIMIT: Duration = Duration::from_secs(30);

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bytes waiting on one side, bounded. Pure: the rules the FFI follows, tested alone.
#[derive(Debug, Default)]
struct Queue {
    bytes: VecDeque<u8>,
    ended: bool,
}

impl Queue {
    fn room(&self, capacity: usize) -> usize {
        capacity.saturating_sub(self.bytes.len())
    }

    /// Up to `room` of `bytes`; returns how many were taken.
    fn push(&mut self, bytes: &[u8], capacity: usize) -> usize {
        let take = self.room(capacity).min(bytes.len());
        self.bytes.extend(&bytes[..take]);
        take
    }

    fn take_all(&mut self) -> Vec<u8> {
        self.bytes.drain(..).collect()
    }
}

/// The events to ask libvirt for: more output while the inbox has room, room to write while
/// the outbox has bytes; nothing once the console ended (else libvirt's timer keeps firing).
fn interest(inbox_room: usize, outbox_pending: bool, ended: bool) -> c_int {
    if ended {
        return 0;
    }
    let mut events = sys::VIR_STREAM_EVENT_ERROR | sys::VIR_STREAM_EVENT_HANGUP;
    if inbox_room > 0 {
        events |= sys::VIR_STREAM_EVENT_READABLE;
    }
    if outbox_pending {
        events |= sys::VIR_STREAM_EVENT_WRITABLE;
    }
    events as c_int
}

/// A `virStreamPtr` we hold one reference of: released (after the callback is removed and the
/// stream aborted) when the last holder drops it — always on a blocking thread, since these
/// libvirt calls may wait a moment.
struct StreamPtr {
    ptr: sys::virStreamPtr,
    watched: AtomicBool,
}

// SAFETY: libvirt's stream functions are thread-safe; the reference is released once, in Drop.
unsafe impl Send for StreamPtr {}
unsafe impl Sync for StreamPtr {}

impl Drop for StreamPtr {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `open`, released once, here. Removing the callback
        // while it runs on the event loop is allowed: libvirt defers the removal until it
        // returns.
        unsafe {
            if self.watched.load(Ordering::Acquire) {
                sys::virStreamEventRemoveCallback(self.ptr);
            }
            sys::virStreamAbort(self.ptr);
            sys::virStreamFree(self.ptr);
        }
    }
}

/// What the event callback and the async side share.
struct Link {
    inbox: Mutex<Queue>,
    outbox: Mutex<Queue>,
    /// Signalled when the inbox got bytes, the outbox got room, or the console ended.
    changed: Notify,
    /// Held while the events asked of libvirt are computed and set.
    interest: Mutex<()>,
    /// `None` only while being dropped.
    stream: Mutex<Option<Arc<StreamPtr>>>,
}

impl Link {
    fn is_ended(&self) -> bool {
        locked(&self.inbox).ended
    }

    /// The console is over: readers and writers are woken, libvirt is asked for nothing more.
    fn end(&self) {
        locked(&self.inbox).ended = true;
        locked(&self.outbox).ended = true;
        self.changed.notify_waiters();
    }

    /// Sets the events asked of libvirt to what the queues need now. Blocking (a libvirt call):
    /// on the event loop thread or the blocking pool.
    fn update_interest(&self, stream: sys::virStreamPtr) {
        let _guard = locked(&self.interest);
        let events = {
            let inbox = locked(&self.inbox);
            let outbox = locked(&self.outbox);
            interest(
                inbox.room(INBOX_BYTES),
                !outbox.bytes.is_empty(),
                inbox.ended,
            )
        };
        // SAFETY: the caller holds the stream alive.
        unsafe { sys::virStreamEventUpdateCallback(stream, events) };
    }

    /// Reads what the stream has, into the inbox's room. On the event loop thread.
    unsafe fn read_available(&self, stream: sys::virStreamPtr) {
        let mut buf = [0u8; 4096];
        loop {
            let room = locked(&self.inbox).room(INBOX_BYTES);
            if room == 0 || self.is_ended() {
                return;
            }
            let want = room.min(buf.len());
            // SAFETY: `stream` is the live stream the callback was called for; `buf` is ours.
            let read = unsafe { sys::virStreamRecv(stream, buf.as_mut_ptr().cast(), want) };
            match read {
                -2 => return, // nothing more now
                n if n > 0 => {
                    locked(&self.inbox).push(&buf[..n as usize], INBOX_BYTES);
                    self.changed.notify_waiters();
                }
                // 0: the guest side closed; below 0: an error. Either way the console is over.
                _ => return self.end(),
            }
        }
    }

    /// Sends what was typed until the stream would block. On the event loop thread. The outbox
    /// is not locked during the send, so a writer never waits on libvirt.
    unsafe fn write_pending(&self, stream: sys::virStreamPtr) {
        loop {
            let chunk: Vec<u8> = {
                let outbox = locked(&self.outbox);
                outbox.bytes.iter().take(4096).copied().collect()
            };
            if chunk.is_empty() {
                return;
            }
            // SAFETY: as in `read_available`.
            let sent = unsafe { sys::virStreamSend(stream, chunk.as_ptr().cast(), chunk.len()) };
            match sent {
                -2 => return,
                n if n > 0 => {
                    locked(&self.outbox).bytes.drain(..n as usize);
                    self.changed.notify_waiters();
                }
                _ => return self.end(),
            }
        }
    }
}

/// The callback's reference to the link. Weak: libvirt 9.0 never calls the free function of a
/// remote stream's callback (fixed upstream later), so this small box may leak, the link not.
struct CallbackState(Weak<Link>);

unsafe extern "C" fn on_event(stream: sys::virStreamPtr, events: c_int, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `CallbackState` registered with the callback; libvirt frees it
    // (if ever) only after the callback was removed and is not running.
    let state = unsafe { &*opaque.cast::<CallbackState>() };
    let Some(link) = state.0.upgrade() else {
        // The console is gone: ask for nothing more.
        // SAFETY: libvirt called us with this stream.
        unsafe { sys::virStreamEventUpdateCallback(stream, 0) };
        return;
    };
    let events = events as u32;
    // SAFETY: called by libvirt on its event loop with the stream the callback belongs to.
    unsafe {
        if events & sys::VIR_STREAM_EVENT_WRITABLE != 0 {
            link.write_pending(stream);
        }
        if events & sys::VIR_STREAM_EVENT_READABLE != 0 {
            link.read_available(stream);
        }
        if events & (sys::VIR_STREAM_EVENT_ERROR | sys::VIR_STREAM_EVENT_HANGUP) != 0 {
            link.read_available(stream);
            link.end();
        }
    }
    link.update_interest(stream);
}

unsafe extern "C" fn free_state(opaque: *mut c_void) {
    // SAFETY: every opaque pointer handed to libvirt here comes from `Box::into_raw` below.
    drop(unsafe { Box::from_raw(opaque.cast::<CallbackState>()) });
}

/// An open serial console. Dropping it closes the stream.
pub struct SerialConsole {
    link: Arc<Link>,
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
        let link = Arc::new(Link {
            inbox: Mutex::default(),
            outbox: Mutex::default(),
            changed: Notify::new(),
            interest: Mutex::default(),
            stream: Mutex::new(Some(Arc::clone(&stream))),
        });
        let opaque = Box::into_raw(Box::new(CallbackState(Arc::downgrade(&link)))).cast();
        let events = interest(INBOX_BYTES, false, false);
        // SAFETY: the stream is valid; `opaque` is owned by libvirt from here on (freed by
        // `free_state`), or freed below if registration failed.
        let added = unsafe {
            sys::virStreamEventAddCallback(
                stream.ptr,
                events,
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
        stream.watched.store(true, Ordering::Release);
        Ok(Self { link })
    }

    /// The console as one byte stream (what the console proxy relays): two small tasks carry
    /// the bytes between it and the returned end, until either side closes — or the reader
    /// takes nothing for `STALL_LIMIT` while the guest has more to say.
    pub fn into_io(self) -> tokio::io::DuplexStream {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, far) = tokio::io::duplex(OUTBOX_BYTES);
        let (mut far_read, mut far_write) = tokio::io::split(far);
        let reader = Arc::clone(&self.link);
        tokio::spawn(async move {
            while let Some(chunk) = read(&reader).await {
                match tokio::time::timeout(STALL_LIMIT, far_write.write_all(&chunk)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break,
                    Err(_) => {
                        tracing::info!(
                            "a serial console's reader took nothing for 30 s; closing it"
                        );
                        break;
                    }
                }
            }
            reader.end();
            let _ = far_write.shutdown().await;
        });
        let writer = self;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(count) = far_read.read(&mut buf).await {
                if count == 0 || write(&writer.link, &buf[..count]).await.is_err() {
                    break;
                }
            }
            // The other end went away: the console is over, and the reader stops waiting.
            writer.link.end();
        });
        near
    }
}

/// What the guest wrote next; `None` once the console ended and everything was read.
async fn read(link: &Arc<Link>) -> Option<Vec<u8>> {
    loop {
        let changed = link.changed.notified();
        let (bytes, was_full, ended) = {
            let mut inbox = locked(&link.inbox);
            let was_full = inbox.room(INBOX_BYTES) == 0;
            (inbox.take_all(), was_full, inbox.ended)
        };
        if !bytes.is_empty() {
            if was_full {
                // Reading was paused for lack of room: there is room again.
                update_interest(link).await;
            }
            return Some(bytes);
        }
        if ended {
            return None;
        }
        changed.await;
    }
}

/// Types `bytes` into the guest; waits while earlier input is still on its way.
async fn write(link: &Arc<Link>, mut bytes: &[u8]) -> Result<(), Ended> {
    while !bytes.is_empty() {
        let changed = link.changed.notified();
        let took = {
            let mut outbox = locked(&link.outbox);
            if outbox.ended {
                return Err(Ended);
            }
            outbox.push(bytes, OUTBOX_BYTES)
        };
        bytes = &bytes[took..];
        if took > 0 {
            update_interest(link).await;
        } else {
            changed.await;
        }
    }
    Ok(())
}

/// Asks libvirt for the events the queues need now, from the blocking pool.
async fn update_interest(link: &Arc<Link>) {
    let Some(stream) = locked(&link.stream).clone() else {
        return;
    };
    let link = Arc::clone(link);
    let _ = tokio::task::spawn_blocking(move || {
        link.update_interest(stream.ptr);
        // `stream` may be the last reference: released here, on a blocking thread.
        drop(stream);
    })
    .await;
}

/// The console ended (the guest's side closed, or libvirt gave up on the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended;

impl Drop for Link {
    fn drop(&mut self) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_take_only_what_they_have_room_for() {
        let mut queue = Queue::default();
        assert_eq!(queue.push(&[1; 10], 16), 10);
        assert_eq!(queue.push(&[2; 10], 16), 6, "only the room left");
        assert_eq!(queue.room(16), 0);
        assert_eq!(queue.push(&[3; 10], 16), 0);
        let taken = queue.take_all();
        assert_eq!(taken.len(), 16);
        assert_eq!(&taken[10..], &[2; 6]);
        assert_eq!(queue.room(16), 16);
    }

    #[test]
    fn libvirt_is_asked_for_what_the_queues_need_and_nothing_once_ended() {
        let (read, write) = (
            sys::VIR_STREAM_EVENT_READABLE as c_int,
            sys::VIR_STREAM_EVENT_WRITABLE as c_int,
        );
        let room_no_output = interest(10, false, false);
        assert!(room_no_output & read != 0 && room_no_output & write == 0);
        let full_with_output = interest(0, true, false);
        assert!(full_with_output & read == 0 && full_with_output & write != 0);
        assert_eq!(interest(10, true, true), 0);
    }
}
