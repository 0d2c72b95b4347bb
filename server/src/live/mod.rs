//! Live state (SPEC §5): the event bus every change goes through, the VM list cached per bus
//! version, and the per-client event streams built on them. What feeds the bus from libvirt is
//! the monitor (`background::monitor`) through the writer of observed state (`observed`); the
//! live view of domain states itself is part of the host (`host::live`). The statistics streams
//! (`stats_stream.rs`) carry the collector's rounds to an open VM page or host page.

pub mod bus;
pub mod list_cache;
pub mod stats_stream;
pub mod stream;

pub use bus::{EventBus, VmChange};
