//! Presence and typing: who in a room is online now, and who is typing.
//!
//! A user is online while any of their event streams (browser tabs, devices)
//! is open, on any server process. Each stream registers a connection with
//! a short TTL that its heartbeat keeps fresh; a sweeper in every process
//! takes users whose last connection expired out of their rooms' online
//! Sets. So a crashed process's users go offline within a minute, and a
//! reload (a new stream within the grace period) is never seen as leaving.
//!
//! Public surface: the [`model`] types, the server functions in [`api`],
//! the UI in [`components`], and on the server [`connect`] (for the event
//! stream) and [`start_sweeper`].

pub mod api;
pub mod components;
pub mod model;

#[cfg(feature = "ssr")]
mod store;

#[cfg(feature = "ssr")]
pub(crate) use store::{connect, start_sweeper};
