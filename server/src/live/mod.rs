//! Live state (SPEC §5): the event bus, the monitor that feeds it from libvirt's events, and
//! the per-client event streams built on it. The live view of domain states itself is part of
//! the host (`host::live`), next to the connection whose events keep it current.

pub mod bus;
pub mod list_cache;
pub mod monitor;
pub mod stream;

pub use bus::{EventBus, VmChange};
