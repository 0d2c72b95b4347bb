//! Console sessions (SPEC §7): a WebSocket accepted by `api::console` becomes a session here —
//! the console opened through the service (which starts the VM if it must), the bytes relayed
//! (`relay`), and the connection closed with its reason in words when the VM stops, the
//! credential ends or Limen shuts down.

pub mod relay;
mod session;

pub use session::{run, Session};
