//! Server-only infrastructure that every feature uses: settings, shared
//! state, the Redis connection, key names, the session store, bounded CPU
//! work and logging.
//!
//! Nothing here knows about a feature or the UI: features depend on this
//! module, never the other way round.

pub mod clock;
pub mod config;
pub mod cpu;
pub mod frame;
pub mod http_security;
pub mod hub;
pub mod keys;
pub mod malloc;
pub mod metrics;
pub mod redis;
pub mod session_store;
pub mod sse;
pub mod state;
pub mod telemetry;
