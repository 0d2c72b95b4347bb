//! Server functions: the dashboard's calls, each a few lines that reach a port from context.
//! Endpoints are fixed (`/rpc/<name>`) so they never depend on build-time hashing.

pub mod accounts;
pub mod auth;
pub mod hosts;
pub mod machine;
pub mod media;
pub mod reconcile;
pub mod snapshots;
pub mod vms;
